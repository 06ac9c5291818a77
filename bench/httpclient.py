"""A minimal asyncio HTTP/1.1 client with keep-alive, for exact request counts.

wrk bounds a run by time, not by request count, and does not look at bodies.
This client complements it: it validates full responses, sends exactly N
requests for the memory soak, cross-checks wrk's single-connection latency,
holds many streams open at once for the slow-streams scenario, and reads the
dashboards' event streams as they arrive.
It understands Content-Length and chunked bodies, which is all the systems
under test produce.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Connection",
    "LoadResult",
    "OpenStream",
    "ProtocolError",
    "Response",
    "build_get",
    "build_post",
    "describe_request",
    "describe_response",
    "fetch",
    "load",
    "open_stream",
    "percentile",
]

_MAX_HEADER_BYTES = 64 * 1024


class ProtocolError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def build_get(host: str, port: int, path: str, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 GET request, as a health probe (or, with its key, a dashboard) sends it."""
    fields = {"Host": f"{host}:{port}", "Accept": "*/*", **(headers or {})}
    head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("ascii")


def build_post(host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 POST request with a JSON body."""
    fields = {"Host": f"{host}:{port}", "Content-Type": "application/json", "Accept": "*/*"}
    fields.update(headers or {})
    fields["Content-Length"] = str(len(body))
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("ascii") + body


def describe_request(raw: bytes) -> str:
    """A request as the report shows it: its head, then its JSON body indented."""
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        body_text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        body_text = body.decode("utf-8", "replace")
    if len(body_text) > 20_000:
        body_text = body_text[:20_000] + f"\n... ({len(body):,} bytes in all)"
    return head.decode("latin-1").replace("\r\n", "\n") + "\n\n" + body_text


def describe_response(response: Response) -> str:
    """A response as the report shows it: status, headers and the start of the body."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"HTTP {response.status}\n{headers}\n\n{response.body[:4000].decode('utf-8', 'replace')}"


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("response head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return status, headers


def _is_chunked(headers: dict[str, str]) -> bool:
    return "chunked" in headers.get("transfer-encoding", "").lower()


async def _read_chunk(reader: asyncio.StreamReader) -> bytes | None:
    """The next chunk of a chunked body; None after the last one (and its trailer section)."""
    size_line = await reader.readuntil(b"\r\n")
    size = int(size_line.split(b";")[0].strip(), 16)
    if size == 0:
        # Trailer section, terminated by an empty line.
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass
        return None
    chunk = await reader.readexactly(size)
    if await reader.readexactly(2) != b"\r\n":
        raise ProtocolError("chunk not terminated by CRLF")
    return chunk


async def _read_body(reader: asyncio.StreamReader, status: int, headers: dict[str, str]) -> bytes:
    if _is_chunked(headers):
        chunks: list[bytes] = []
        while (chunk := await _read_chunk(reader)) is not None:
            chunks.append(chunk)
        return b"".join(chunks)
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if status in (204, 304) or 100 <= status < 200:
        return b""
    headers["connection"] = "close"
    return await reader.read()  # delimited by connection close


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status, headers = await _read_head(reader)
    return status, headers, await _read_body(reader, status, headers)


class Connection:
    """One keep-alive connection that reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> Response:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=_MAX_HEADER_BYTES)
        start = time.perf_counter()
        self._writer.write(raw)
        try:
            status, headers, body = await _read_response(self._reader)
        except BaseException:
            await self.close()
            raise
        seconds = time.perf_counter() - start
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body, seconds)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def fetch(host: str, port: int, raw: bytes, request_timeout: float = 30.0) -> Response:
    """One request on a fresh connection."""
    conn = Connection(host, port)
    try:
        return await asyncio.wait_for(conn.request(raw), request_timeout)
    finally:
        await conn.close()


class OpenStream:
    """A streamed response whose head and first server-sent event have arrived; ``finish()`` reads the rest."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, start: float) -> None:
        self._reader = reader
        self._writer = writer
        self._start = start
        self.status = 0
        self.headers: dict[str, str] = {}
        self.received = bytearray()
        self.ended = False

    async def read_first_event(self) -> None:
        """Read the head, then chunks until one whole ``data:`` event is in (or the body ends)."""
        self.status, self.headers = await _read_head(self._reader)
        if not _is_chunked(self.headers):
            self.received += await _read_body(self._reader, self.status, self.headers)
            self.ended = True
            return
        while not _has_data_event(self.received):
            chunk = await _read_chunk(self._reader)
            if chunk is None:
                self.ended = True
                return
            self.received += chunk

    async def next_chunk(self) -> bytes | None:
        """The body's next chunk as it arrives, for a stream read as it goes; None once the body has ended."""
        if self.ended:
            return None
        chunk = await _read_chunk(self._reader)
        self.ended = chunk is None
        return chunk

    async def finish(self) -> Response:
        """Read to the end of the body and close the connection."""
        try:
            while not self.ended:
                chunk = await _read_chunk(self._reader)
                if chunk is None:
                    self.ended = True
                else:
                    self.received += chunk
            return Response(self.status, self.headers, bytes(self.received), time.perf_counter() - self._start)
        finally:
            await self.close()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


def _has_data_event(received: bytearray) -> bool:
    """Whether a whole event with a ``data:`` field is in: on any of its lines, after an ``event:`` name, say."""
    text = bytes(received).replace(b"\r\n", b"\n")
    return any(line.startswith(b"data:") for block in text.split(b"\n\n")[:-1] for line in block.split(b"\n"))


async def open_stream(host: str, port: int, raw: bytes) -> OpenStream:
    """Send ``raw`` on a new connection and wait for the response's first event; the caller finishes it."""
    reader, writer = await asyncio.open_connection(host, port, limit=_MAX_HEADER_BYTES)
    stream = OpenStream(reader, writer, time.perf_counter())
    try:
        writer.write(raw)
        await stream.read_first_event()
    except BaseException:
        await stream.close()
        raise
    return stream


@dataclass
class LoadResult:
    completed: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""


async def load(
    host: str,
    port: int,
    raw: bytes,
    total: int,
    connections: int,
    *,
    request_timeout: float = 30.0,
    record_latency: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Send exactly ``total`` requests over ``connections`` keep-alive connections.

    ``on_progress`` is called with the number of completed requests after each
    response, from the event loop.
    """
    result = LoadResult()
    issued = 0

    async def worker() -> None:
        nonlocal issued
        conn = Connection(host, port)
        try:
            while issued < total:
                issued += 1
                try:
                    response = await asyncio.wait_for(conn.request(raw), request_timeout)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ProtocolError, ValueError) as exc:
                    result.socket_errors += 1
                    result.first_error = result.first_error or f"{exc.__class__.__name__}: {exc}"
                    await conn.close()
                else:
                    if not 200 <= response.status < 300:
                        result.non_2xx += 1
                        detail = f"status {response.status}: {response.body[:200]!r}"
                        result.first_error = result.first_error or detail
                    if record_latency:
                        result.latencies.append(response.seconds)
                result.completed += 1
                if on_progress is not None:
                    on_progress(result.completed)
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(connections, total)))))
    result.seconds = time.perf_counter() - start
    return result


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(pct / 100 * len(sorted_values))))
    return sorted_values[rank - 1]
