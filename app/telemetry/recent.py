"""The recent requests: what the dashboard's Overview and live tail read, kept as each request ends.

    RequestRecord     one finished request: who asked, for what, what served it, how it ended, at what cost
    Traffic           the last ten minutes in five-second buckets: requests, errors, tokens, tool calls and
                      a latency histogram, from which the Overview reads rates and p50/p95
    TargetErrors      each target's last failure and when: why its circuit is open
    RecentRequests    the worker's own: a bounded ring of records, its traffic and its targets' errors
    RequestFeed       what the dashboard reads: every worker's and instance's recent requests. `LocalFeed`
                      is the worker's own (one worker without Redis); `app.shared.recent` keeps them in Redis,
                      `app.shared.recent_files` in files the workers share when there are several and no Redis

`RecentRequests.add` is on every request's path, so it does little: one record, a few integer additions,
no lock, no I/O, nothing per chunk. Sharing happens later, in batches (`share_interval`); an open dashboard
reads the feed once per update, whatever the number of requests, and every open dashboard gets the same
update (`app.ui.live`).

Recorded are the requests to the API (`/v1/...`, `/mcp`) and any other that named a model (the dashboard's
playground); probes, scrapes, the dashboard's own files and its admin reads are not. A record holds the
request's body and answer only when `[dashboard] log_content` is on.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import os
import socket
import time
from typing import TYPE_CHECKING, Protocol

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from app.context import RequestContext

__all__ = [
    "BUCKETS",
    "BUCKET_SECONDS",
    "LATENCY_BOUNDS_MS",
    "LocalFeed",
    "RecentRequests",
    "RequestFeed",
    "RequestRecord",
    "TargetError",
    "TargetErrors",
    "Traffic",
    "Window",
    "error_message",
    "instance_name",
    "merge_windows",
    "summarise",
]

BUCKET_SECONDS = 5
BUCKETS = 120
"""Ten minutes of five-second buckets."""
LATENCY_BOUNDS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000)
# The columns of a bucket's row: counts, then one column per latency bound and one past the last.
REQUESTS, SERVER_ERRORS, CLIENT_ERRORS, PROMPT_TOKENS, COMPLETION_TOKENS, TOOL_CALLS, LATENCY = range(7)
WIDTH = LATENCY + len(LATENCY_BOUNDS_MS) + 1

Window = dict[int, list[int]]
"""Traffic rows by bucket number (unix seconds // BUCKET_SECONDS)."""

_RECORDED = ("/v1/", "/mcp")
_TARGET_ERRORS = 256
_ERROR_TEXT = 2000


def instance_name() -> str:
    """Which process served a request, as the dashboard shows it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class RequestRecord(msgspec.Struct, kw_only=True):
    id: str
    at: float
    """Unix seconds when the request ended (its stream's last byte)."""
    method: str
    path: str
    status: int
    duration_ms: float
    key: str | None = None
    """The client key's name (never the key)."""
    model: str | None = None
    target: str | None = None
    attempts: int = 0
    stream: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: int = 0
    tool_rounds: int | None = None
    error: str | None = None
    """The error message a failed request answered with."""
    instance: str = ""
    request_body: str | None = None
    """Only with `[dashboard] log_content`, cut at `content_bytes`."""
    response_body: str | None = None


class TargetError(msgspec.Struct, kw_only=True):
    message: str
    at: float
    """Unix seconds."""
    code: str | None = None


class TargetErrors:
    """The last failure of each target, most recent last, a bounded number of targets."""

    def __init__(self, limit: int = _TARGET_ERRORS) -> None:
        self._limit = limit
        self.errors: dict[str, TargetError] = {}
        self.changed: dict[str, TargetError] = {}
        """Failures not yet shared with other workers (see the feeds)."""

    def failed(self, target: str, message: str, code: str | None, at: float) -> None:
        error = TargetError(message=message[:_ERROR_TEXT], at=at, code=code)
        self.errors.pop(target, None)
        self.errors[target] = error
        self.changed[target] = error
        if len(self.errors) > self._limit:
            del self.errors[next(iter(self.errors))]
        if len(self.changed) > self._limit:
            del self.changed[next(iter(self.changed))]

    def forget(self, target: str | None) -> None:
        """A target was reset: what it did before no longer explains its state."""
        if target is None:
            self.errors.clear()
            self.changed.clear()
        else:
            self.errors.pop(target, None)
            self.changed.pop(target, None)


class Traffic:
    """The last `BUCKETS` buckets of `BUCKET_SECONDS`, as rows of integers (see the column names above)."""

    def __init__(self) -> None:
        self._numbers = [-1] * BUCKETS
        self._rows = [[0] * WIDTH for _ in range(BUCKETS)]

    def count(self, at: float, status: int, milliseconds: float, prompt: int, completion: int, tools: int) -> None:
        number = int(at) // BUCKET_SECONDS
        slot = number % BUCKETS
        row = self._rows[slot]
        if self._numbers[slot] != number:
            self._numbers[slot] = number
            row[:] = _ZEROS
        row[REQUESTS] += 1
        if status >= 500:
            row[SERVER_ERRORS] += 1
        elif status >= 400:
            row[CLIENT_ERRORS] += 1
        row[PROMPT_TOKENS] += prompt
        row[COMPLETION_TOKENS] += completion
        row[TOOL_CALLS] += tools
        row[LATENCY + bisect.bisect_left(LATENCY_BOUNDS_MS, milliseconds)] += 1

    def window(self, now: float) -> Window:
        """Copies of the rows of the last `BUCKETS` buckets up to `now`."""
        newest = int(now) // BUCKET_SECONDS
        return {
            number: list(row)
            for number, row in zip(self._numbers, self._rows, strict=True)
            if newest - BUCKETS < number <= newest
        }


_ZEROS = [0] * WIDTH


def merge_windows(windows: Iterable[Window]) -> Window:
    """Several workers' or instances' traffic as one: rows of the same bucket added up."""
    merged: Window = {}
    for window in windows:
        for number, row in window.items():
            mine = merged.get(number)
            if mine is None:
                merged[number] = list(row)
            else:
                for column, value in enumerate(row):
                    mine[column] += value
    return merged


class RecentRequests:
    """This worker's recent requests. `add` runs once per request, as it ends."""

    def __init__(self, history: int, *, log_content: bool = False, content_bytes: int = 0) -> None:
        self.records: collections.deque[RequestRecord] = collections.deque(maxlen=history)
        self.added = 0
        """Records added since the worker started: readers keep their place by it."""
        self.traffic = Traffic()
        self.target_errors = TargetErrors()
        self.log_content = log_content
        self.content_bytes = content_bytes
        self.instance = instance_name()

    @staticmethod
    def recorded(path: str) -> bool:
        """Whether requests to `path` are recorded whatever they asked for (the API)."""
        return path.startswith(_RECORDED)

    def add(
        self,
        context: RequestContext,
        seconds: float,
        *,
        error: str | None = None,
        request_body: bytes | bytearray | None = None,
        response_body: bytes | bytearray | None = None,
    ) -> None:
        if context.model is None and not context.path.startswith(_RECORDED):
            return
        now = time.time()
        status = context.status or 500
        milliseconds = round(seconds * 1000, 1)
        record = RequestRecord(
            id=context.request_id,
            at=now,
            method=context.method,
            path=context.path,
            status=status,
            duration_ms=milliseconds,
            key=context.key_name,
            model=context.model,
            target=context.target,
            attempts=context.attempts,
            stream=context.stream,
            prompt_tokens=context.prompt_tokens,
            completion_tokens=context.completion_tokens,
            tool_calls=context.tool_calls,
            tool_rounds=context.tool_rounds,
            error=error,
            instance=self.instance,
            request_body=None if request_body is None else _text(request_body, self.content_bytes),
            response_body=None if response_body is None else _text(response_body, self.content_bytes),
        )
        self.records.append(record)
        self.added += 1
        self.traffic.count(
            now,
            status,
            milliseconds,
            context.prompt_tokens or 0,
            context.completion_tokens or 0,
            context.tool_calls,
        )

    def target_failed(self, target: str, message: str, code: str | None) -> None:
        self.target_errors.failed(target, message, code, round(time.time(), 3))

    def newer_than(self, added: int) -> list[RequestRecord]:
        """The records added after the `added`-th, oldest first (those still in the ring)."""
        fresh = min(self.added - added, len(self.records))
        if fresh <= 0:
            return []
        newest_first = list(itertools.islice(reversed(self.records), fresh))
        newest_first.reverse()
        return newest_first


class _Problem(msgspec.Struct):
    message: str


class _Envelope(msgspec.Struct):
    error: _Problem


_envelope = msgspec.json.Decoder(_Envelope)


def error_message(answer: bytes | bytearray) -> str | None:
    """The message of an error answer in OpenAI's envelope (None for anything else)."""
    try:
        return _envelope.decode(answer).error.message[:_ERROR_TEXT]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _text(body: bytes | bytearray, limit: int) -> str:
    return body[:limit].decode("utf-8", "replace")


class RequestFeed(Protocol):
    """Every worker's and instance's recent requests, as the dashboard reads them."""

    local: RecentRequests
    """This worker's own (what `add` fills)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def latest(self, limit: int) -> list[RequestRecord]:
        """The newest `limit` records, newest first."""
        ...

    async def since(self, cursor: str | None) -> tuple[list[RequestRecord], str]:
        """Records added after `cursor` (None: none, only a cursor for next time), oldest first."""
        ...

    async def traffic(self) -> Window: ...

    async def target_errors(self) -> dict[str, TargetError]: ...

    async def forget_target(self, target: str | None) -> None:
        """Drop a reset target's last error (every target's, for None)."""
        ...


class LocalFeed:
    """One worker without Redis: the feed is the worker's own records."""

    def __init__(self, local: RecentRequests) -> None:
        self.local = local

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def latest(self, limit: int) -> list[RequestRecord]:
        return list(itertools.islice(reversed(self.local.records), limit))

    async def since(self, cursor: str | None) -> tuple[list[RequestRecord], str]:
        added = self.local.added
        records = self.local.newer_than(int(cursor)) if cursor is not None else []
        return records, str(added)

    async def traffic(self) -> Window:
        return self.local.traffic.window(time.time())

    async def target_errors(self) -> dict[str, TargetError]:
        self.local.target_errors.changed.clear()  # nobody else to share them with
        return dict(self.local.target_errors.errors)

    async def forget_target(self, target: str | None) -> None:
        self.local.target_errors.forget(target)


def summarise(window: Window, now: float, last: float = 60.0) -> dict[str, object]:
    """The Overview's figures: rates over the `last` seconds, and one point per whole bucket of the window
    for the charts (`BUCKETS - 1` of them, oldest first, from `series.start`)."""
    newest = int(now) // BUCKET_SECONDS
    numbers = range(newest - BUCKETS + 1, newest + 1)
    empty = _ZEROS
    rows = [window.get(number, empty) for number in numbers]
    recent_buckets = max(1, round(last / BUCKET_SECONDS))
    total = [sum(column) for column in zip(*rows[-recent_buckets:], strict=True)]
    # The charts end with the last whole bucket: the one still filling would read as a sudden drop.
    charted = rows[:-1]
    # The newest bucket is still filling: rates divide by the time it has actually covered.
    covered = (recent_buckets - 1) * BUCKET_SECONDS + (now - newest * BUCKET_SECONDS)
    requests = total[REQUESTS]
    return {
        "at": round(now, 3),
        "bucket_seconds": BUCKET_SECONDS,
        "last_seconds": last,
        "requests": requests,
        "requests_per_second": round(requests / covered, 3) if covered > 0 else 0.0,
        "server_errors": total[SERVER_ERRORS],
        "client_errors": total[CLIENT_ERRORS],
        "error_rate": round(total[SERVER_ERRORS] / requests, 4) if requests else 0.0,
        "p50_ms": _percentile(total[LATENCY:], 0.5),
        "p95_ms": _percentile(total[LATENCY:], 0.95),
        "prompt_tokens": total[PROMPT_TOKENS],
        "completion_tokens": total[COMPLETION_TOKENS],
        "tokens_per_minute": round((total[PROMPT_TOKENS] + total[COMPLETION_TOKENS]) * 60 / covered, 1)
        if covered > 0
        else 0.0,
        "tool_calls": total[TOOL_CALLS],
        "series": {
            "start": numbers[0] * BUCKET_SECONDS,
            "requests": [row[REQUESTS] for row in charted],
            "server_errors": [row[SERVER_ERRORS] for row in charted],
            "client_errors": [row[CLIENT_ERRORS] for row in charted],
            "tokens": [row[PROMPT_TOKENS] + row[COMPLETION_TOKENS] for row in charted],
            "p50_ms": [_percentile(row[LATENCY:], 0.5) for row in charted],
            "p95_ms": [_percentile(row[LATENCY:], 0.95) for row in charted],
        },
    }


def _percentile(histogram: Sequence[int], quantile: float) -> float | None:
    """Estimated from the histogram, linearly within the bucket the quantile falls in."""
    total = sum(histogram)
    if not total:
        return None
    rank = quantile * total
    below = 0
    for index, count in enumerate(histogram):
        if count and below + count >= rank:
            lower = LATENCY_BOUNDS_MS[index - 1] if index else 0.0
            upper = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else LATENCY_BOUNDS_MS[-1]
            return round(lower + (upper - lower) * (rank - below) / count, 1)
        below += count
    return float(LATENCY_BOUNDS_MS[-1])
