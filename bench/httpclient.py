"""A minimal asyncio HTTP/1.1 client with keep-alive, for exact request counts.

wrk bounds a run by time, not by request count, and does not look at bodies.
This client complements it: it validates full responses, sends exactly N
requests for the memory soak, and cross-checks wrk's single-connection
latency.  It understands Content-Length and chunked bodies, which is all the
systems under test produce.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Connection",
    "LoadResult",
    "ProtocolError",
    "Response",
    "build_post",
    "fetch",
    "load",
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


def build_post(host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 POST request with a JSON body."""
    fields = {"Host": f"{host}:{port}", "Content-Type": "application/json", "Accept": "*/*"}
    fields.update(headers or {})
    fields["Content-Length"] = str(len(body))
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("ascii") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
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

    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                # Trailer section, terminated by an empty line.
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                break
            chunks.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise ProtocolError("chunk not terminated by CRLF")
        body = b"".join(chunks)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()  # delimited by connection close
        headers["connection"] = "close"
    return status, headers, body


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
