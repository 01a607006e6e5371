"""A thin Telegram Bot API client (over fetch.ApiClient): four methods, outcomes as values.

Every call returns an `ApiResult` whose `kind` says what to do next; nothing raises for the
channel's faults. The bot token is part of every request URL: it never appears in a result,
a log line or a repr.

    ok            the message was accepted (message_id set)
    retry_after   429: wait `retry_after` seconds, for this chat only
    migrated      the group became a supergroup: resend to `migrate_to`
    parse         400 "can't parse entities": our HTML was refused
    media         Telegram could not fetch or use the photo URL: send as text instead
    not_modified  an edit changed nothing (as good as ok)
    blocked       401/403/404, "chat not found", missing rights: pause the target
    transient     5xx, or no connection could be made: retry later with backoff
    timeout       the request went out but no answer came: outcome unknown, never resent
    rejected      any other refusal (e.g. 400 message too long): retrying will not help
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from syndicator.fetch import ApiClient, ApiFailure

log = logging.getLogger(__name__)

# A 5xx or an unreachable API is first retried within the same send, after about 1 s and
# then 2 s (±25 %, so that senders do not retry in step): a blip delays a message by
# seconds, not by the first backoff (dispatch.backoff). These are not counted as attempts.
QUICK_RETRIES = (1.0, 2.0)
QUICK_JITTER = 0.25

_MEDIA_ERRORS = (
    "wrong file identifier", "failed to get http url content", "wrong type of the web page",
    "image_process_failed", "photo_invalid", "wrong remote file", "photo_save_file_invalid",
    "file is too big",
)
_BLOCKING_400 = (
    "chat not found", "need administrator rights", "not enough rights", "chat_write_forbidden",
    "topic_closed", "have no rights", "chat_admin_required", "bot was kicked",
    "peer_id_invalid",
)


@dataclass(frozen=True)
class ApiResult:
    kind: str
    message_id: str | None = None
    description: str = ""
    status: int | None = None
    retry_after: float | None = None
    migrate_to: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind in ("ok", "not_modified")


def classify(status: int, payload: Any) -> ApiResult:
    """Turn a Bot API answer into an ApiResult (on error code + description prefix)."""
    if not isinstance(payload, dict):
        if status >= 500:
            return ApiResult("transient", description=f"HTTP {status} without a JSON body",
                             status=status)
        # A non-JSON 2xx may well mean the message went out: never resend it.
        return ApiResult("timeout" if status < 300 else "rejected",
                         description=f"HTTP {status} without a JSON body", status=status)
    if payload.get("ok") is True:
        result = payload.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return ApiResult("ok", message_id=None if message_id is None else str(message_id),
                         status=status)
    code = int(payload.get("error_code") or status)
    description = str(payload.get("description") or f"HTTP {status}")
    parameters = payload.get("parameters") or {}
    lowered = description.lower()
    if code == 429:
        retry = parameters.get("retry_after")
        return ApiResult("retry_after", description=description, status=code,
                         retry_after=float(retry) if retry is not None else 30.0)
    if parameters.get("migrate_to_chat_id") is not None:
        return ApiResult("migrated", description=description, status=code,
                         migrate_to=str(parameters["migrate_to_chat_id"]))
    if code in (401, 403, 404):
        return ApiResult("blocked", description=description, status=code)
    if code == 400:
        if "can't parse entities" in lowered or "can't find end" in lowered:
            return ApiResult("parse", description=description, status=code)
        if "message is not modified" in lowered:
            return ApiResult("not_modified", description=description, status=code)
        if any(phrase in lowered for phrase in _MEDIA_ERRORS):
            return ApiResult("media", description=description, status=code)
        if any(phrase in lowered for phrase in _BLOCKING_400):
            return ApiResult("blocked", description=description, status=code)
        return ApiResult("rejected", description=description, status=code)
    if code >= 500:
        return ApiResult("transient", description=description, status=code)
    return ApiResult("rejected", description=description, status=code)


def quick_retry_delay(retry: int) -> float | None:
    """Seconds before the `retry`-th (0-based) quick retry of a transient failure; None
    when the quick retries are used up (the delivery then waits for its backoff)."""
    if retry >= len(QUICK_RETRIES):
        return None
    return QUICK_RETRIES[retry] * (1 + random.uniform(-QUICK_JITTER, QUICK_JITTER))


class TelegramClient:
    """Calls `{api_url}/bot{token}/{method}` with a JSON body."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 30.0,
                 connect_timeout: float = 10.0) -> None:
        self._base = api_url.rstrip("/")
        self._token = token
        self._client = ApiClient(timeout=(min(connect_timeout, timeout), timeout))

    def __repr__(self) -> str:
        return f"TelegramClient({self._base!r}, token=***)"

    def close(self) -> None:
        self._client.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def call(self, method: str, payload: dict[str, Any]) -> ApiResult:
        url = f"{self._base}/bot{self._token}/{method}"
        answer = self._client.post(url, json_body=payload)
        if isinstance(answer, ApiFailure):
            if answer.kind == "timeout":
                return ApiResult("timeout", description="no answer within the read timeout; "
                                 "the message may have been delivered")
            if answer.kind == "lost":
                # The connection broke after the request was sent: it may have arrived.
                return ApiResult("timeout", description=self._scrub(answer.description))
            return ApiResult("transient", description=self._scrub(answer.description))
        result = classify(answer.status, answer.json())
        if not result.ok:
            log.info("telegram %s: %s", method, self._scrub(result.description))
        return result

    def send_message(self, chat_id: str, text: str, *, parse_mode: str | None = "HTML",
                     preview_url: str | None = None, disable_preview: bool = False,
                     disable_notification: bool = False) -> ApiResult:
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text,
                                   "disable_notification": disable_notification}
        if parse_mode:
            payload["parse_mode"] = parse_mode
        if disable_preview:
            payload["link_preview_options"] = {"is_disabled": True}
        elif preview_url:
            payload["link_preview_options"] = {"url": preview_url}
        return self.call("sendMessage", payload)

    def send_photo(self, chat_id: str, photo: str, caption: str, *,
                   parse_mode: str | None = "HTML",
                   disable_notification: bool = False) -> ApiResult:
        payload: dict[str, Any] = {"chat_id": chat_id, "photo": photo, "caption": caption,
                                   "disable_notification": disable_notification}
        if parse_mode:
            payload["parse_mode"] = parse_mode
        return self.call("sendPhoto", payload)

    def edit_message_text(self, chat_id: str, message_id: str, text: str, *,
                          parse_mode: str | None = "HTML") -> ApiResult:
        payload: dict[str, Any] = {"chat_id": chat_id, "message_id": int(message_id),
                                   "text": text}
        if parse_mode:
            payload["parse_mode"] = parse_mode
        return self.call("editMessageText", payload)

    def edit_message_caption(self, chat_id: str, message_id: str, caption: str, *,
                             parse_mode: str | None = "HTML") -> ApiResult:
        payload: dict[str, Any] = {"chat_id": chat_id, "message_id": int(message_id),
                                   "caption": caption}
        if parse_mode:
            payload["parse_mode"] = parse_mode
        return self.call("editMessageCaption", payload)


def chat_id_value(chat_id: str | int) -> str:
    """Chat ids travel as strings: "@name" or the number ("-100…") as text."""
    return str(chat_id)
