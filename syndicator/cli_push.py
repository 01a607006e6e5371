"""`syndicator push` and `syndicator subscribers`: the operator's side of push delivery."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from syndicator.app import App, make_app
from syndicator.cli_common import EXIT_FAILED, CliState, reported_errors
from syndicator.config import Config, EmailTarget
from syndicator.errors import AddressInvalid, ChoiceInvalid, ConfigError
from syndicator.push.dispatch import (
    DispatchReport,
    dispatch_due,
    find_target,
    resume_target,
    send_digest,
)
from syndicator.push.email import valid_address
from syndicator.push.job import TargetReport
from syndicator.push.languages import choose_languages, list_languages
from syndicator.push.preview import Preview, preview
from syndicator.push.rhythm import RHYTHMS, rhythm_of
from syndicator.push.status import DeliveryToCheck, deliveries_to_check, push_status
from syndicator.push.subscribers import (
    add_confirmed,
    email_target,
    known_address,
    read_csv,
)


def _report_line(report: TargetReport) -> str:
    line = (f"{report.target_id}: {report.sent} sent, {report.edited} edited, "
            f"{report.failed} failed, {report.unknown} unknown, {report.dead} dead")
    if report.suppressed:
        line += f", {report.suppressed} suppressed"
    if report.deferred:
        line += "; more due later (pacing or a 429 hold)"
    if report.paused:
        line += f"; PAUSED: {report.paused}"
    return line


@click.command("push")
@click.argument("args", nargs=-1, metavar="[TARGET_ID | ID...]")
@click.option("--dry-run", is_flag=True,
              help="Render the next messages of TARGET_ID without sending anything.")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True,
              help="With --dry-run: how many deliveries to render.")
@click.option("--resume", is_flag=True, help="Unpause TARGET_ID (after fixing the chat).")
@click.option("--status", "show_status", is_flag=True,
              help="Per target (or TARGET_ID): queued, sent, failed, unknown, dead, paused and "
                   "why, and the unknown and dead deliveries with their ids.")
@click.option("--resend", is_flag=True,
              help="Queue the deliveries ID... (unknown, failed or dead) again: the next push "
                   "sends them. For an unknown one, check the chat or mailbox first.")
@click.option("--mark-sent", is_flag=True,
              help="Record the deliveries ID... (unknown, failed or dead) as sent, without "
                   "sending: the message was seen to arrive.")
@click.pass_obj
def push_command(state: CliState, args: tuple[str, ...], dry_run: bool, limit: int,
                 resume: bool, show_status: bool, resend: bool, mark_sent: bool) -> None:
    """Send due push deliveries now (all targets, or TARGET_ID; a digest target sends its
    digest). With --resend or --mark-sent: decide on deliveries by the ids --status lists."""
    with reported_errors():
        if resend or mark_sent:
            if sum((resend, mark_sent, dry_run, resume, show_status)) > 1:
                raise click.UsageError("--resend and --mark-sent go alone")
            _settle(state.config(), _delivery_ids(args), "pending" if resend else "sent")
            return
        if len(args) > 1:
            raise click.UsageError(f"one TARGET_ID at most, got {len(args)}: {' '.join(args)}")
        target_id = args[0] if args else None
        config = state.config()
        if (dry_run or resume) and not target_id:
            raise click.UsageError("--dry-run and --resume need a TARGET_ID")
        if target_id:
            find_target(config, target_id)
        with make_app(config) as app:
            if show_status:
                _status(app, config, target_id)
                return
            if dry_run:
                assert target_id is not None
                _dry_run(preview(app, target_id, limit=limit))
                return
            if resume:
                assert target_id is not None
                resume_target(app, target_id)
                click.echo(f"{target_id}: resumed")
                return
            target = find_target(config, target_id) if target_id else None
            if isinstance(target, EmailTarget) and target.mode == "digest":
                report: DispatchReport = send_digest(app, target.id)
            else:
                report = dispatch_due(app, target_ids=[target_id] if target_id else None)
        for target_report in report.targets:
            click.echo(_report_line(target_report))
            for note in target_report.notes:
                click.echo(f"  {note}")
        if any(r.paused or r.dead for r in report.targets):
            sys.exit(EXIT_FAILED)


# Unknown and dead deliveries listed per target by `push --status` (all of them for one
# TARGET_ID).
_LISTED = 20


def _status(app: App, config: Config, target_id: str | None) -> None:
    listed = False
    for status in push_status(app.store, config):
        if target_id and status.target_id != target_id:
            continue
        click.echo(f"{status.target_id} ({status.type}): {status.summary}")
        limit = None if target_id else _LISTED
        shown = deliveries_to_check(app.store, status.target_id, limit=limit)
        for row in shown:
            click.echo("  " + _check_line(row))
        more = status.unknown + status.dead - len(shown)
        if shown and more > 0:
            click.echo(f"  ... and {more} older (syndicator push --status {status.target_id})")
        listed = listed or bool(shown)
    if listed:
        click.echo("After checking the chat or mailbox: syndicator push --resend ID... sends "
                   "them again, syndicator push --mark-sent ID... records them as sent.")


def _check_line(row: DeliveryToCheck) -> str:
    to = f" to {row.recipient}" if row.recipient else ""
    when = f", {row.when.strftime('%Y-%m-%d %H:%M:%S')} UTC" if row.when else ""
    what = f"{row.title} <{row.url}>" if row.url else "(item no longer stored)"
    line = f"id {row.id}: {row.state}{to}{when}: {what}"
    return line + f" [{row.error}]" if row.state == "dead" and row.error else line


def _delivery_ids(args: tuple[str, ...]) -> list[int]:
    if not args:
        raise click.UsageError("--resend and --mark-sent need the ids of the deliveries "
                               "(syndicator push --status lists them)")
    ids = []
    for arg in args:
        if not arg.isascii() or not arg.isdigit() or int(arg) == 0:
            raise click.UsageError(f"{arg!r} is not a delivery id (a number that "
                                   "syndicator push --status lists)")
        ids.append(int(arg))
    return ids


def _settle(config: Config, ids: list[int], state: str) -> None:
    with make_app(config) as app:
        before = app.store.settle_deliveries(ids, app.clock(), state=state)
    done = "queued again" if state == "pending" else "marked sent"
    for row in before:
        click.echo(f"id {row.id} ({row.target_id}{' to ' + row.recipient if row.recipient else ''}"
                   f", was {row.state}): {done}")
    if state == "pending":
        click.echo("the next push sends them (syndicator push, or the running service)")


def _dry_run(previews: list[Preview]) -> None:
    if not previews:
        click.echo("nothing queued and no stored item to show")
        return
    for index, shown in enumerate(previews, start=1):
        where = f"{shown.method} to {shown.to}"
        if shown.sample:
            where += " (nothing queued: the newest item as an example)"
        click.echo(f"--- {index}: {where}")
        if shown.photo:
            click.echo(f"photo: {shown.photo}")
        if shown.subject:
            click.echo(f"Subject: {shown.subject}")
        click.echo(shown.body)


# --- subscribers ------------------------------------------------------------------------------

def _target_id(config: Config, given: str | None) -> str:
    if given:
        return email_target(config, given).id
    targets = [t.id for t in config.push if isinstance(t, EmailTarget)]
    if len(targets) == 1:
        return targets[0]
    if not targets:
        raise ConfigError("no email push target is configured")
    raise click.UsageError(f"several email targets ({', '.join(targets)}): pass --target")


_target_option = click.option("--target", "target", metavar="TARGET_ID", default=None,
                              help="The email target (default: the only one).")


@click.group("subscribers")
def subscribers_group() -> None:
    """Email subscribers: add, remove, list, import (operator-added addresses are confirmed
    at once; sign-ups through the web form confirm by mail)."""


@subscribers_group.command("add")
@click.argument("emails", nargs=-1, required=True)
@_target_option
@click.option("--languages", default=None, metavar="CODES",
              help="The languages read, in order (e.g. be,en): each story once, in the first "
                   "it exists in; `all` for every item. An address already there keeps its "
                   "languages unless given.")
@click.option("--rhythm", type=click.Choice([*RHYTHMS, "default"]), default=None,
              help="A mail per item, or a daily or weekly digest; `default`: the target's "
                   "mode. An address already there keeps its rhythm unless given.")
@click.pass_obj
def add_command(state: CliState, emails: tuple[str, ...], target: str | None,
                languages: str | None, rhythm: str | None) -> None:
    """Add addresses, confirmed (or change the languages or rhythm of addresses already
    there)."""
    with reported_errors():
        config = state.config()
        target_id = _target_id(config, target)
        chosen = (_languages(config, target_id, languages) if languages is not None
                  else None)
        pace = None if rhythm is None else "" if rhythm == "default" else rhythm
        with make_app(config) as app:
            added, invalid = add_confirmed(app.store, config, target_id,
                                           [(email, chosen, pace) for email in emails],
                                           app.clock())
        _added_report(target_id, added, invalid)


def _languages(config: Config, target_id: str, given: str) -> tuple[str, ...]:
    """--languages checked as the forms check a reader's choice: each one of the list's."""
    try:
        return choose_languages(given, list_languages(config, email_target(config, target_id)),
                                where=f"list {target_id}")
    except ChoiceInvalid as exc:
        raise click.BadParameter(str(exc), param_hint="--languages") from exc


def _added_report(target_id: str, added: list[str], invalid: list[AddressInvalid]) -> None:
    click.echo(f"{target_id}: {len(added)} address(es) added")
    for refused in invalid:
        click.echo(f"not an email address: {refused}", err=True)
    if invalid:
        sys.exit(EXIT_FAILED)


@subscribers_group.command("remove")
@click.argument("emails", nargs=-1, required=True)
@_target_option
@click.pass_obj
def remove_command(state: CliState, emails: tuple[str, ...], target: str | None) -> None:
    """Remove addresses (their queued mails are not sent)."""
    with reported_errors():
        config = state.config()
        target_id = _target_id(config, target)
        missing = []
        with make_app(config) as app:
            for address in emails:
                email = known_address(app.store, target_id, valid_address(address) or address)
                if not app.store.delete_subscriber(target_id, email, app.clock()):
                    missing.append(address)
        click.echo(f"{target_id}: {len(emails) - len(missing)} address(es) removed")
        for address in missing:
            click.echo(f"not subscribed: {address}", err=True)


@subscribers_group.command("list")
@_target_option
@click.option("--status", type=click.Choice(["pending", "confirmed", "unsubscribed",
                                             "bounced"]), default=None)
@click.pass_obj
def list_command(state: CliState, target: str | None, status: str | None) -> None:
    """List subscribers: address, status, since, languages ("all": every item), rhythm
    (item, daily or weekly; "(default)" when it is the target's mode)."""
    with reported_errors():
        config = state.config()
        target_id = _target_id(config, target)
        email_list = email_target(config, target_id)
        with make_app(config) as app:
            for subscriber in app.store.subscribers(target_id, status=status):
                since = subscriber.confirmed_at or subscriber.created
                pace = rhythm_of(email_list, subscriber.rhythm)
                click.echo(f"{subscriber.email}\t{subscriber.status}\t"
                           f"{since.strftime('%Y-%m-%d %H:%M')}\t"
                           f"{','.join(subscriber.languages) or 'all'}\t"
                           f"{pace if subscriber.rhythm else pace + ' (default)'}")


@subscribers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_target_option
@click.pass_obj
def import_command(state: CliState, file: Path, target: str | None) -> None:
    """Add the addresses of a CSV file (an `email` column, or the first column), confirmed;
    a `languages` column ("be en") sets each address's languages, a `rhythm` column (item,
    daily, weekly) its rhythm."""
    with reported_errors():
        config = state.config()
        target_id = _target_id(config, target)
        addresses = read_csv(file, list_languages(config, email_target(config, target_id)))
        with make_app(config) as app:
            added, invalid = add_confirmed(app.store, config, target_id, addresses,
                                           app.clock())
        _added_report(target_id, added, invalid)
