"""Scripted HTTP servers on 127.0.0.1: a few lines of asyncio that write exactly the bytes a test needs, a
broken answer included, and read what arrived."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A server on 127.0.0.1 running `handler` for each connection; yields its base URL."""
    writers: list[asyncio.StreamWriter] = []

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(connected, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (by Content-Length, or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    fields = head.lower()
    if b"content-length:" in fields:
        length = int(fields.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        return head, await reader.readexactly(length)
    if b"transfer-encoding: chunked" in fields:
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readexactly(2)
        return head, body
    return head, b""


def replying(reply: bytes, seen: list[tuple[bytes, bytes]] | None = None) -> Handler:
    """A handler that answers every request on its connection with `reply` until the client leaves, keeping
    each request it read (head and body) in `seen`."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                request = await read_request(reader)
                if seen is not None:
                    seen.append(request)
                writer.write(reply)
                await writer.drain()

    return handler


def answer(body: bytes, *fields: str, status: str = "200 OK", sized: bool = True) -> bytes:
    """An answer's bytes: its status, `fields`, and `Content-Length` unless not `sized` (the body then ends
    where the connection does)."""
    head = "".join(f"{field}\r\n" for field in fields) + (f"Content-Length: {len(body)}\r\n" if sized else "")
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body
