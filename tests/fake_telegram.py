"""A fake Telegram Bot API on loopback, as strict as the real one where it matters to us.

It enforces what https://core.telegram.org/bots/api says and what was observed (see
/work/shared/reference/telegram-and-email.md): HTML parse mode with only the accepted tags
and attributes, balanced and properly nested; `<`, `>` and `&` escaped in text, only the
named entities lt/gt/amp/quot; limits of 4096 (message) and 1024 (caption) characters after
entity parsing, counted in code points; 20 messages a minute to a group or channel and 30 a
second overall (429 with `retry_after`); 401 for a bad token; 403 for a chat that kicked the
bot; 400 "chat not found"; group → supergroup migration; photo URLs fetched for real (only
loopback; anything else is "wrong file identifier/HTTP URL specified").

`accepted` is the log of messages it took; tests assert on that, never on what we sent.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024

_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)"
    r"\s*(/?)>")
_ATTR = re.compile(r"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_CANONICAL = {"strong": "b", "em": "i", "ins": "u", "strike": "s", "del": "s"}
_FORMATTING = {"b", "i", "u", "s", "tg-spoiler", "span"}
_ALLOWED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
            "a", "code", "pre", "blockquote", "tg-emoji"}


class ParseError(Exception):
    """What Telegram answers as `400 Bad Request: can't parse entities: ...`."""


def _offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8"))


def _attributes(raw: str) -> dict[str, str | None]:
    attrs: dict[str, str | None] = {}
    for match in _ATTR.finditer(raw):
        value = match.group(2)
        if value is not None and value[:1] in "\"'":
            value = value[1:-1]
        attrs[match.group(1).lower()] = None if value is None else html.unescape(value)
    return attrs


def _check_attributes(name: str, attrs: dict[str, str | None], parent: str | None,
                      where: int) -> None:
    allowed: dict[str, set[str]] = {"a": {"href"}, "span": {"class"}, "code": {"class"},
                                    "blockquote": {"expandable"}, "tg-emoji": {"emoji-id"}}
    for key in attrs:
        if key not in allowed.get(name, set()):
            raise ParseError(f'Unsupported attribute "{key}" in tag "{name}" at byte offset '
                             f"{where}")
    if name == "a":
        href = attrs.get("href") or ""
        if not re.match(r"^(https?://|tg://user\?id=\d+$)", href):
            raise ParseError(f"Unsupported URL \"{href}\" at byte offset {where}")
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise ParseError(f'Unsupported start tag "span" at byte offset {where}')
    if name == "code" and "class" in attrs and (
            parent != "pre" or not re.match(r"^language-[\w+#-]+$", attrs["class"] or "")):
        raise ParseError(f'Unsupported attribute "class" in tag "code" at byte offset {where}')


def parse_html(text: str) -> str:
    """The visible text of Telegram HTML, or ParseError with Telegram's wording."""
    visible: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "<":
            match = _TAG.match(text, pos)
            if match is None:
                raise ParseError(f"Unsupported start tag at byte offset {_offset(text, pos)}")
            closing, name, raw_attrs, self_closing = match.groups()
            name = name.lower()
            where = _offset(text, pos)
            if name not in _ALLOWED:
                raise ParseError(f'Unsupported start tag "{name}" at byte offset {where}')
            if self_closing:
                raise ParseError(f'Unsupported start tag "{name}/" at byte offset {where}')
            if closing:
                if raw_attrs.strip():
                    raise ParseError(f"Unexpected attributes in end tag at byte offset {where}")
                if not stack:
                    raise ParseError(f'Unexpected end tag at byte offset {where}')
                if stack[-1] != name:
                    raise ParseError(f'Unmatched end tag at byte offset {where}, expected '
                                     f'"</{stack[-1]}>", found "</{name}>"')
                stack.pop()
            else:
                canonical = _CANONICAL.get(name, name)
                inside = {_CANONICAL.get(t, t) for t in stack}
                parent = stack[-1] if stack else None
                _check_attributes(name, _attributes(raw_attrs), parent, where)
                if inside & {"pre", "code"} and not (canonical == "code" and parent == "pre"):
                    raise ParseError(f"Can't nest entities inside pre or code at byte offset "
                                     f"{where}")
                if canonical == "blockquote" and "blockquote" in inside:
                    raise ParseError(f"Can't nest blockquote entities at byte offset {where}")
                if canonical not in _FORMATTING and canonical in inside:
                    raise ParseError(f'Can\'t nest "{name}" inside itself at byte offset '
                                     f"{where}")
                stack.append(name)
            pos = match.end()
        elif char == "&":
            match = _ENTITY.match(text, pos)
            if match is None:
                raise ParseError(f"Can't find end of the entity starting at byte offset "
                                 f"{_offset(text, pos)}")
            visible.append(html.unescape(match.group(0)))
            pos = match.end()
        elif char == ">":
            raise ParseError(f"Unescaped \">\" at byte offset {_offset(text, pos)}")
        else:
            visible.append(char)
            pos += 1
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(visible)


@dataclass
class Message:
    """A message the fake accepted (and its later edits)."""

    chat_id: str
    message_id: int
    method: str                    # sendMessage | sendPhoto
    raw: str                       # text or caption as sent (HTML when parse_mode=HTML)
    text: str                      # what a reader sees: entities parsed
    parse_mode: str | None
    photo: str | None = None
    edits: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Fault:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


class FakeTelegram:
    """Start with `with FakeTelegram(token) as tg:`; point a target's api_url at `tg.url`."""

    def __init__(self, token: str = "123456:TEST-token_abc", *, per_chat: int = 20,
                 per_chat_window: float = 60.0, overall: int = 30,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.per_chat = per_chat
        self.per_chat_window = per_chat_window
        self.overall = overall
        self.clock = clock
        self.accepted: list[Message] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.refusals: list[tuple[str, int, str]] = []   # (method, status, description)
        self.kicked: set[str] = set()
        self.missing: set[str] = set()
        self.migrated: dict[str, str] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._stall: deque[float] = deque()
        self.delay = 0.0          # seconds every request takes (a slow network)
        self.arrived = 0          # requests received, including those still being processed
        self._sent_at: dict[str, deque[float]] = {}
        self._all_sent: deque[float] = deque()
        self._next_id: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- knobs ---------------------------------------------------------------------------

    def fail_next(self, chat_id: str, status: int, description: str, *, times: int = 1,
                  parameters: dict[str, Any] | None = None) -> None:
        """The next `times` sends to the chat fail with this answer."""
        queue = self._faults.setdefault(str(chat_id), deque())
        for _ in range(times):
            queue.append(_Fault(status, description, parameters))

    def stall_next(self, seconds: float) -> None:
        """The next request is processed (and accepted) only after `seconds`."""
        self._stall.append(seconds)

    def messages(self, chat_id: str | int) -> list[Message]:
        return [m for m in self.accepted if m.chat_id == str(chat_id)]

    # -- server --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeTelegram:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = fake.handle(self.path, self.headers.get("Content-Type", ""),
                                             body)
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The client may have given up waiting (a read timeout test).
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self.do_POST()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # -- the API -------------------------------------------------------------------------

    def handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        match = re.match(r"^/bot([^/]+)/(\w+)$", urlsplit(path).path)
        if match is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = match.groups()
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if content_type.startswith("application/json"):
            payload = json.loads(body or b"{}")
        else:
            payload = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        with self._lock:
            self.arrived += 1
            stall = self._stall.popleft() if self._stall else self.delay
        time.sleep(stall)
        with self._lock:
            self.requests.append((method, payload))
            status, answer = self._dispatch(method, payload)
            if not answer["ok"]:
                self.refusals.append((method, status, answer["description"]))
        return status, answer

    def _error(self, status: int, description: str,
               parameters: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        answer: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            answer["parameters"] = parameters
        return status, answer

    def _dispatch(self, method: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        handlers = {"sendMessage": self._send, "sendPhoto": self._send,
                    "editMessageText": self._edit, "editMessageCaption": self._edit}
        if method not in handlers:
            return self._error(404, "Not Found: method not found")
        if "chat_id" not in payload:
            return self._error(400, "Bad Request: chat_id is empty")
        chat = str(payload["chat_id"])
        if chat in self.kicked:
            return self._error(403, "Forbidden: bot was kicked from the channel chat")
        if chat in self.missing:
            return self._error(400, "Bad Request: chat not found")
        if chat in self.migrated:
            return self._error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                               {"migrate_to_chat_id": int(self.migrated[chat])})
        faults = self._faults.get(chat)
        if faults:
            fault = faults.popleft()
            return self._error(fault.status, fault.description, fault.parameters)
        return handlers[method](method, chat, payload)

    def _limited(self, chat: str) -> int | None:
        """Seconds to wait when this message would break a rate limit, else None."""
        now = self.clock()
        while self._all_sent and self._all_sent[0] <= now - 1.0:
            self._all_sent.popleft()
        if len(self._all_sent) >= self.overall:
            return 1
        sent = self._sent_at.setdefault(chat, deque())
        while sent and sent[0] <= now - self.per_chat_window:
            sent.popleft()
        group = chat.startswith(("-", "@"))
        limit, window = (self.per_chat, self.per_chat_window) if group else (1, 1.0)
        recent = [t for t in sent if t > now - window]
        if len(recent) >= limit and (group or len(recent) >= 3):
            return max(1, int(recent[len(recent) - limit] + window - now + 0.999))
        sent.append(now)
        self._all_sent.append(now)
        return None

    def _text(self, raw: Any, mode: Any, limit: int, *, caption: bool,
              allow_empty: bool) -> tuple[str, tuple[int, dict[str, Any]] | None]:
        raw = "" if raw is None else str(raw)
        if mode is not None and mode != "HTML":
            return "", self._error(400, f"Bad Request: unsupported parse_mode {mode}")
        try:
            text = parse_html(raw) if mode == "HTML" else raw
        except ParseError as exc:
            return "", self._error(400, f"Bad Request: can't parse entities: {exc}")
        if not text.strip() and not allow_empty:
            return "", self._error(400, "Bad Request: message text is empty")
        if len(text) > limit:   # code points, as the live API counted in a probe
            what = "message caption is too long" if caption else "message is too long"
            return "", self._error(400, f"Bad Request: {what}")
        return text, None

    def _fetch_photo(self, url: str) -> tuple[int, dict[str, Any]] | None:
        host = urlsplit(url).hostname or ""
        if not url.startswith(("http://", "https://")) or host not in ("127.0.0.1",
                                                                       "localhost"):
            return self._error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                kind = response.headers.get_content_type()
                data = response.read(5_000_001)
        except (urllib.error.URLError, OSError):
            return self._error(400, "Bad Request: failed to get HTTP URL content")
        if not kind.startswith("image/"):
            return self._error(400, "Bad Request: wrong type of the web page content")
        if len(data) > 5_000_000:
            return self._error(400, "Bad Request: failed to get HTTP URL content")
        return None

    def _send(self, method: str, chat: str, payload: dict[str, Any]
              ) -> tuple[int, dict[str, Any]]:
        photo = payload.get("photo") if method == "sendPhoto" else None
        if method == "sendPhoto" and not photo:
            return self._error(400, "Bad Request: there is no photo in the request")
        key = "caption" if photo else "text"
        text, error = self._text(payload.get(key), payload.get("parse_mode"),
                                 CAPTION_LIMIT if photo else MESSAGE_LIMIT,
                                 caption=bool(photo), allow_empty=bool(photo))
        if error is not None:
            return error
        if photo:
            failed = self._fetch_photo(str(photo))
            if failed is not None:
                return failed
        wait = self._limited(chat)
        if wait is not None:
            return self._error(429, f"Too Many Requests: retry after {wait}",
                               {"retry_after": wait})
        message_id = self._next_id.get(chat, 0) + 1
        self._next_id[chat] = message_id
        self.accepted.append(Message(chat, message_id, method, str(payload.get(key) or ""),
                                     text, payload.get("parse_mode"), photo,
                                     payload=dict(payload)))
        result: dict[str, Any] = {"message_id": message_id, "chat": {"id": chat},
                                  "date": int(time.time())}
        result["caption" if photo else "text"] = text
        return 200, {"ok": True, "result": result}

    def _edit(self, method: str, chat: str, payload: dict[str, Any]
              ) -> tuple[int, dict[str, Any]]:
        found = [m for m in self.accepted
                 if m.chat_id == chat and m.message_id == int(payload.get("message_id", 0))]
        if not found:
            return self._error(400, "Bad Request: message to edit not found")
        message = found[0]
        caption = method == "editMessageCaption"
        if caption and message.photo is None:
            return self._error(400, "Bad Request: there is no caption in the message to edit")
        if not caption and message.photo is not None:
            return self._error(400, "Bad Request: there is no text in the message to edit")
        raw = payload.get("caption" if caption else "text")
        text, error = self._text(raw, payload.get("parse_mode"),
                                 CAPTION_LIMIT if caption else MESSAGE_LIMIT,
                                 caption=caption, allow_empty=caption)
        if error is not None:
            return error
        if text == message.text:
            return self._error(400, "Bad Request: message is not modified: specified new "
                               "message content and reply markup are exactly the same as a "
                               "current content and reply markup of the message")
        message.edits.append(text)
        message.raw, message.text = str(raw), text
        return 200, {"ok": True, "result": {"message_id": message.message_id,
                                            "chat": {"id": chat}}}
