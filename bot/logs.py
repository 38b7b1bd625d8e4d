"""Logging for the running bot: plain text or JSON lines, with secrets and reader ids kept out.

- `LOG_FORMAT=text` is one readable line per event, with no colour codes (logs end up in files and journals);
  `json` is one object a line for log pipelines, written by python-json-logger (it handles exceptions, extra
  fields and escaping the way log shippers expect).
- Every line is redacted on its way out: interaction and webhook tokens (in discord.py's DEBUG request and event
  lines; they let anyone post as the bot for 15 minutes) and the bot token itself.
- discord.py's two "voice will NOT be supported" warnings are dropped: the bot never uses voice. Its reconnect
  attempts and aiohttp's malformed health requests are one WARNING line each instead of a traceback, and
  asyncio's warning at every write to a peer that is gone is dropped.
- Reader ids go into failure logs only as `reader_tag(id)`: a keyed hash that is the same within one run (so
  lines about one reader can be followed) and cannot be turned back into an id afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
# /interactions/<id>/<token>/callback and /webhooks/<application id>/<token>/…: the token is the secret part.
_TOKEN_IN_URL = re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s?\"']+")
# discord.py's DEBUG gateway lines carry whole events: an interaction's "token" field is the same secret.
_TOKEN_FIELD = re.compile(r"""(\\?["']token\\?["']\s*:\s*\\?["'])[^"'\\]+""")  # also JSON-escaped
_RUN_KEY = secrets.token_bytes(16)  # per process: tags cannot be matched across runs or reversed from a member list


def reader_tag(user_id: int | None) -> str:
    """What failure logs say instead of a reader's id."""
    if user_id is None:
        return "-"
    return "r:" + hmac.new(_RUN_KEY, str(user_id).encode(), hashlib.sha256).hexdigest()[:12]


def redact(line: str, secrets_: tuple[str, ...] = ()) -> str:
    """`line` with callback tokens (and any of `secrets_`) replaced by <redacted>."""
    line = _TOKEN_FIELD.sub(r"\1<redacted>", _TOKEN_IN_URL.sub(r"\1<redacted>", line))
    for secret in secrets_:
        line = line.replace(secret, "<redacted>")
    return line


class _Redacting(logging.Formatter):
    """Redacts the finished line, so a token in the message, its arguments or a traceback is caught alike."""

    secrets: tuple[str, ...] = ()

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


class TextFormatter(_Redacting):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)


class JsonLineFormatter(_Redacting, JsonFormatter):
    def __init__(self) -> None:
        super().__init__(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger", "asctime": "time"})


class _NoVoiceWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "discord.client" and "voice will NOT be supported" in str(record.msg))


# asyncio's warning at every write to a peer that is gone (the answer process, once dead, is said so in one line
# of its own, and every question sent to it afterwards repeated this).
_LOST_WRITES = ("socket.send() raised exception.", "pipe closed by peer or os.write(pipe, data) raised exception.")


class _OneLine(logging.Filter):
    """Expected failures of libraries as one line each, not a traceback: discord.py's reconnect attempts (an
    ERROR and ~20 lines of traceback each) and aiohttp's malformed requests to the health server; asyncio's
    lost-write warnings are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "asyncio" and record.msg in _LOST_WRITES:
            return False
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        reconnect = record.name in {"discord.client", "discord.shard"} and \
            str(record.msg).startswith("Attempting a reconnect")
        if reconnect or (record.name == "aiohttp.server" and _malformed_request(exc)):
            why = " ".join(str(exc).split())  # aiohttp's messages span lines
            kind = f"{type(exc).__name__}: {why}" if why else type(exc).__name__
            record.msg, record.args = f"{record.getMessage()} ({kind})", ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _malformed_request(exc: BaseException) -> bool:
    from aiohttp.http_exceptions import HttpProcessingError  # here: only a running bot has aiohttp loaded

    return isinstance(exc, HttpProcessingError)


def setup_logging(level: str, log_format: str, *, token: str | None = None, stream: TextIO | None = None) -> None:
    """One handler on the root logger, at `level`, in `log_format` ("text" or "json"), to stderr by default.

    Replaces handlers a previous call installed (so tests and restarts do not double every line), but leaves
    any handler somebody else installed alone.
    """
    formatter: _Redacting = JsonLineFormatter() if log_format == "json" else TextFormatter()
    formatter.secrets = (token,) if token else ()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_NoVoiceWarnings())
    handler.addFilter(_OneLine())
    handler.set_name("story-bot")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "story-bot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
