"""Where the process logs, at what level, and the guarantee that no secret reaches the log.

The bot's own loggers follow `log_level`; other libraries' stay at INFO or quieter unless a
logger is named in `log_levels`, because at DEBUG some of them write what the server sent
back, access tokens included. Whatever does reach a handler passes through `RedactSecrets`
first, so even a library logging a token at a level someone asked for writes none.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import TextIO

# The loggers that are the bot's own: every module's `__name__`, and the entry point's.
OWN_LOGGERS = ("bot", "samizdat")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"

# A configured secret shorter than this is not searched for: it would match ordinary text,
# and the gaps it left would spell it out.
MIN_SECRET_CHARS = 6

# Keys whose values are secrets, in JSON, Python reprs, query strings and headers:
# access_token, refresh_token, login_token, token, password, new_password, pickle_key...
_KEY = r"\b\w*(?:token|password|passwd|secret|pickle_key)\b"
_QUOTED = re.compile(rf"""({_KEY}["']?\s*[:=]\s*)(["'])(?:\\.|(?!\2).)*\2""", re.IGNORECASE)
_BARE = re.compile(rf"""({_KEY}\s*[:=]\s*)(?!["'\s])[^\s"',;&}}\]\)]+""", re.IGNORECASE)
# Values that are secrets by their shape, whatever they are called.
_SHAPES = [
    re.compile(r"(\b(?:Bearer|Basic)\s+)[\w\-.~+/=]+", re.IGNORECASE),
    re.compile(r"()\bsy[tu]_[\w-]+"),  # Synapse access and refresh tokens
    re.compile(r"()\b[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,}"),  # Discord bot tokens
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret it holds, known or recognisable, replaced by [redacted]."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    text = _QUOTED.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}{m[2]}", text)
    text = _BARE.sub(lambda m: f"{m[1]}{REDACTED}", text)
    for shape in _SHAPES:
        text = shape.sub(lambda m: f"{m[1]}{REDACTED}", text)
    return text


class RedactSecrets(logging.Filter):
    """A handler filter: sees every record the handler writes, from any logger."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call; the formatter reports it as logging always does
            return True
        clean = redact(message, self._secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def _severity(level: str | int) -> int:
    return level if isinstance(level, int) else logging.getLevelNamesMapping()[level]


def configure_logging(
    level: str,
    levels: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Log to `stream` (stderr): ours at `level`, others at INFO at most unless named.

    Called once, by the entry point; returns the handler so a caller can remove it.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(_severity(level), logging.INFO))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name, named_level in (levels or {}).items():
        logging.getLogger(name).setLevel(named_level)
    return handler
