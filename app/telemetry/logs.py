"""Log output: one handler on the root logger, as text or one JSON object per line, with secrets redacted.

`Redactor` is a logging filter on that handler, so it sees every record from every logger, the router's,
litestar's, httpx's and redis's alike. It replaces each configured secret (provider API keys, the admin key,
the Redis URL's password, and every client key once a client has presented it: only their digests are
configured) wherever it appears: message, arguments, exception text and the request-log fields. Adapters
already scrub upstream error text; this is the second line of defence.

Structured fields travel as `extra={"fields": {...}}`: the JSON formatter merges them into the object, the
text formatter appends them as `name=value`. A record logged while a request is served, without fields of its
own, gets that request's id (`RequestIds`), so a warning can be found next to its request's line.

Client input reaches log records (model names, paths, upstream error text), so both formatters escape control
characters in every value they write (`printable`): a newline in a model name cannot start a line of its own.
In the text format each record is one line that starts at the first column, any traceback follows on lines
indented by two spaces, and a field value with a space, `"` or `=` in it is quoted, so no value can pass for
another field or another record.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from app.context import active

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from app.settings import LogFormat, Settings
    from providers.base import Provider

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "Redactor",
    "RequestIds",
    "TextFormatter",
    "configure_logging",
    "configured_secrets",
    "granian_log_config",
    "printable",
]

REDACTED = "[redacted]"
# httpx logs every upstream request at INFO: one line per attempt is noise next to one line per request.
_QUIET_LOGGERS = ("httpx", "httpcore")
_encoder = msgspec.json.Encoder()
# C0 and C1 control characters, DEL, and Unicode's line and paragraph separators: each can end a line, move the
# cursor or recolour a terminal. Line feeds inside tracebacks are the formatters' own and are kept (`_CONTROLS`).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A text-format field value with one of these is quoted, so that it cannot read as a further `name=value`.
_NEEDS_QUOTES = re.compile(r'[\s"=]')
# A value that needs neither quotes nor escapes, written as it is: nearly every one (one test, not two).
_PLAIN_VALUE = re.compile(r'[^\s"=\x00-\x1f\x7f-\x9f\u2028\u2029]+')


class Redactor(logging.Filter):
    """Replaces known secrets in log records. Safe to extend while the server runs (`learn`)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._learned: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        fresh = {secret for secret in secrets if secret} - self._secrets
        if fresh:
            self._secrets |= fresh
            # Longest first, so a secret that contains another is replaced whole.
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, alternatives)))

    def learn(self, name: str, secret: str) -> None:
        """Remember the key a client authenticated with (the configuration holds only its digest)."""
        if self._learned.get(name) != secret:
            self._learned[name] = secret
            self.add(secret)

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        pattern = self._pattern
        if pattern is None:
            return True
        message = record.getMessage()
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _plain.formatException(record.exc_info)
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        texts = [message, record.exc_text or "", record.stack_info or ""]
        if fields:
            texts += [value for value in fields.values() if isinstance(value, str)]
        # One search over everything first: almost every record holds no secret, and then nothing is rewritten.
        if pattern.search("\0".join(texts)) is None:
            return True
        record.msg = self.redact(message)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        if fields:
            for name, value in fields.items():
                if isinstance(value, str):
                    fields[name] = self.redact(value)
        return True


_plain = logging.Formatter()


def printable(text: str) -> str:
    """`text` with every control character written as an escape (`\\n`, `\\x1b`, `\\u2028`)."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if escaped := _SHORT_ESCAPES.get(char):
        return escaped
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _printable_lines(text: str) -> str:
    """A traceback or stack with its control characters escaped, its line breaks kept."""
    return _CONTROLS.sub(_escape, text)


def _printable_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: printable(value) if isinstance(value, str) else value for name, value in fields.items()}


class RequestIds(logging.Filter):
    """Tags a record logged while a request is served (a warning, an error) with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "fields") and (context := active()) is not None:
            record.fields = {"request_id": context.request_id}
        return True


def configured_secrets(settings: Settings, providers: Mapping[str, Provider]) -> list[str]:
    """Every secret the configuration holds: provider keys, the admin key, Redis's URL and password."""
    keys = (provider.settings.api_key for provider in providers.values())
    found = [key.get_secret_value() for key in keys if key is not None]
    if settings.admin_key is not None:
        found.append(settings.admin_key.get_secret_value())
    if settings.redis_url is not None:
        url = settings.redis_url.get_secret_value()
        found += [url, urlsplit(url).password or ""]
    return [secret for secret in found if secret]


class _Seconds:
    """A time's part up to the second, as `written` writes it, once a second rather than once per record."""

    __slots__ = ("_second", "_text", "_written")

    def __init__(self, written: Callable[[int], str]) -> None:
        self._written = written
        self._second = -1
        self._text = ""

    def __call__(self, second: int) -> str:
        if second != self._second:
            self._second = second
            self._text = self._written(second)
        return self._text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the record's structured fields."""

    def __init__(self) -> None:
        super().__init__()
        self._seconds = _Seconds(lambda second: datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": printable(record.getMessage()),
        }
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if fields:
            entry.update(_printable_fields(fields))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        # JSON escapes line breaks itself: a traceback stays one string on the record's one line.
        if record.exc_text:
            entry["exception"] = _printable_lines(record.exc_text)
        if record.stack_info:
            entry["stack"] = _printable_lines(record.stack_info)
        return _encoder.encode(entry).decode()

    def _time(self, created: float) -> str:
        """ISO 8601 in UTC, to the millisecond; the part up to the second is formatted once a second."""
        second = int(created)
        return f"{self._seconds(second)}.{int((created - second) * 1000):03d}Z"


class TextFormatter(logging.Formatter):
    """`time level logger: message name=value ...` for people reading a terminal, one line per record."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._seconds = _Seconds(lambda second: time.strftime(self.default_time_format, self.converter(second)))

    def format(self, record: logging.LogRecord) -> str:
        record.message = printable(record.getMessage())
        record.asctime = self._time(record)
        # The format `__init__` gives, written directly: `formatMessage` would interpolate the record's dict.
        text = f"{record.asctime} {record.levelname} {record.name}: {record.message}"
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if fields:
            text += "".join([f" {name}={_field_value(value)}" for name, value in fields.items() if value is not None])
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += _indented(record.exc_text)
        if record.stack_info:
            text += _indented(self.formatStack(record.stack_info))
        return text

    def _time(self, record: logging.LogRecord) -> str:
        """`formatTime`'s local time, with the part up to the second formatted once a second."""
        return f"{self._seconds(int(record.created))},{int(record.msecs):03d}"  # as `default_msec_format` writes it


def _field_value(value: Any) -> str:
    if type(value) is int or type(value) is float or type(value) is bool:
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if _PLAIN_VALUE.fullmatch(text) is not None:
        return text
    if text and _NEEDS_QUOTES.search(text) is None:
        return printable(text)
    # Quoted the way a JSON string is, so that the escapes read the same inside quotes and out.
    return '"' + printable(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def _indented(block: str) -> str:
    """A traceback or stack as continuation lines: only a record's first line starts at the first column."""
    return "".join(f"\n  {line}" for line in _printable_lines(block).rstrip("\n").split("\n"))


def configure_logging(level: str, log_format: LogFormat, redactor: Redactor) -> None:
    """Send every log record to standard output, formatted and redacted; quiet per-attempt httpx lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIds())
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in root.handlers:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # No format here prints them, and each costs a lookup on every record (logging's documented switches).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def granian_log_config(log_format: LogFormat) -> dict[str, Any] | None:
    """Granian's own logging configuration: in JSON mode its lines are JSON too (None keeps its default)."""
    if log_format != "json":
        return None
    formatter = {"()": f"{__name__}.JsonFormatter"}
    handler = {"formatter": "json", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        "handlers": {"console": handler},
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
