"""Email addresses: parsed and normalised by `email-validator` (the only module that uses it).

One address, nothing around it: no display name, no angle brackets, no comments, no quoted
local part, no source route, no domain literal, no trailing dot, a domain with a dot and
not a special-use name (`localhost`, `.test`, ...). No DNS is asked: whether the domain
takes mail shows when the mail is sent.

An address is kept in its normalised Unicode form (the domain lower-cased, IDNA-decoded,
NFC). It is sent as `ascii`, the domain in IDNA (`u@xn--exmple-cua.com`), when its local
part is ASCII; a non-ASCII local part needs a mail server that offers SMTPUTF8.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from syndicator.errors import AddressInvalid

MAX_LENGTH = 254          # RFC 5321's limit on a path, less the angle brackets


@dataclass(frozen=True)
class MailAddress:
    email: str               # normalised, Unicode: what the store keeps
    ascii: str | None        # the same with the domain in IDNA; None: the local part needs UTF-8

    @property
    def needs_smtputf8(self) -> bool:
        return self.ascii is None


def parse_address(text: str) -> MailAddress:
    """The address `text` holds (surrounding white space ignored), or AddressInvalid with a
    one-line reason that names it."""
    candidate = text.strip()
    if not candidate:
        raise AddressInvalid(text, "no email address given")
    if len(candidate) > MAX_LENGTH:
        raise AddressInvalid(candidate[:40] + "…", f"longer than {MAX_LENGTH} characters")
    try:
        valid = validate_email(candidate, check_deliverability=False, allow_smtputf8=True,
                               allow_quoted_local=False, allow_domain_literal=False,
                               allow_display_name=False, allow_empty_local=False)
    except EmailNotValidError as exc:
        raise AddressInvalid(candidate, str(exc).splitlines()[0] if str(exc) else
                             "not an email address") from None
    return MailAddress(email=valid.normalized, ascii=valid.ascii_email)


def normalised(text: str) -> str | None:
    """The normalised form of an address, or None when `text` is not one."""
    try:
        return parse_address(text).email
    except AddressInvalid:
        return None


_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox_key(email: str) -> str:
    """One key for the spellings of an address that reach one mailbox, for rate limits
    only (the address is stored and mailed as it was given): lower-cased, a `+tag`
    dropped from the local part, and at Gmail the dots too (`A.nn+x@googlemail.com` and
    `ann@gmail.com` are one inbox). It may join two real mailboxes of one domain; then both
    share one bound, which is all it is used for."""
    local, _, domain = email.rpartition("@")
    local, domain = local.lower().split("+", 1)[0], domain.lower()
    if domain in _DOTLESS:
        local, domain = local.replace(".", ""), _DOTLESS[domain]
    return f"{local}@{domain}"
