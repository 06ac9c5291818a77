"""The transport under every outbound call (`providers.pool`), against scripted HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import zlib
from typing import TYPE_CHECKING, Protocol

import aiohttp
import httpx
import pytest
import yarl

from providers.pool import SessionTransport, client_timeout

from .scripted import answer, read_request, replying, serving

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

TIMEOUTS = httpx.Timeout(5.0).as_dict()
LEAN_TIMEOUTS = client_timeout(5.0, 5.0, 5.0)
FIELDS = [("content-type", "application/json"), ("x-trace", "a")]


@contextlib.asynccontextmanager
async def transport() -> AsyncIterator[SessionTransport]:
    pool = SessionTransport(lambda: aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()))
    try:
        yield pool
    finally:
        await pool.aclose()


def request(url: str, *, method: str = "POST", content: bytes | None = None, **extensions: object) -> httpx.Request:
    return httpx.Request(
        method,
        url,
        content=content,
        headers={"x-trace": "a", "content-type": "application/json"},
        extensions={"timeout": TIMEOUTS} | extensions,
    )


async def test_a_request_goes_out_exactly_as_built_and_its_answer_comes_back_whole() -> None:
    seen: list[tuple[bytes, bytes]] = []
    fields = ("Content-Type: application/json", "Link: <a>", "Link: <b>")
    handler = replying(answer(b'{"ok":true}', *fields, status="201 Made"), seen)

    async with serving(handler) as base, transport() as pool:
        response = await pool.handle_async_request(request(f"{base}/v1/things?x=%2F&y=a%26b", content=b'{"q":1}'))
        body = await response.aread()

    head, sent = seen[0]
    assert head.startswith(b"POST /v1/things?x=%2F&y=a%26b HTTP/1.1\r\n")
    assert b"\r\nx-trace: a\r\n" in head.lower()
    assert sent == b'{"q":1}'
    assert (response.status_code, response.reason_phrase, response.http_version) == (201, "Made", "HTTP/1.1")
    assert response.headers.get_list("link") == ["<a>", "<b>"]
    assert body == b'{"ok":true}'


async def test_a_body_the_request_streams_is_sent_chunked() -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def parts() -> AsyncIterator[bytes]:
        yield b'{"a":'
        yield b"1}"

    async with serving(replying(answer(b"{}"), seen)) as base, transport() as pool:
        built = httpx.Request("POST", f"{base}/up", content=parts(), extensions={"timeout": TIMEOUTS})
        response = await pool.handle_async_request(built)
        await response.aread()

    assert seen[0][1] == b'{"a":1}'
    assert b"transfer-encoding: chunked" in seen[0][0].lower()


async def test_a_compressed_answer_is_passed_on_as_sent_and_decoded_by_httpx() -> None:
    packed = gzip.compress(b'{"ok":true}')

    async with serving(replying(answer(packed, "Content-Encoding: gzip"))) as base, transport() as pool:
        response = await pool.handle_async_request(request(f"{base}/z", content=b"{}"))
        assert await response.aread() == b'{"ok":true}'
        response = await pool.handle_async_request(request(f"{base}/z", content=b"{}"))
        assert b"".join([raw async for raw in response.aiter_raw()]) == packed


async def test_a_redirect_is_the_answer_not_followed() -> None:
    redirect = answer(b"", "Location: http://169.254.169.254/latest", status="302 Found")

    async with serving(replying(redirect)) as base, transport() as pool:
        response = await pool.handle_async_request(request(f"{base}/r", method="GET"))
        await response.aread()

    assert (response.status_code, response.headers["location"]) == (302, "http://169.254.169.254/latest")


async def test_a_url_that_is_not_http_is_an_unsupported_protocol() -> None:
    async with transport() as pool:
        with pytest.raises(httpx.UnsupportedProtocol):
            await pool.handle_async_request(request("ftp://127.0.0.1/file", method="GET"))


async def test_the_session_is_made_at_the_first_request_and_closed_with_the_transport() -> None:
    made: list[aiohttp.ClientSession] = []

    def session() -> aiohttp.ClientSession:
        made.append(aiohttp.ClientSession())
        return made[-1]

    pool = SessionTransport(session)
    assert made == []
    async with serving(replying(answer(b"{}"))) as base:
        for _ in range(3):
            await (await pool.handle_async_request(request(f"{base}/", content=b"{}"))).aread()
        await pool.aclose()
    assert len(made) == 1
    assert made[0].closed


# ------------------------------------------------------------------------------------ exchange(), the lean way


async def test_exchange_sends_url_headers_and_body_as_given_and_hands_back_status_headers_and_body() -> None:
    seen: list[tuple[bytes, bytes]] = []
    fields = ("Content-Type: application/json", "Retry-After: 3")
    handler = replying(answer(b'{"ok":true}', *fields, status="429 Slow"), seen)

    async with serving(handler) as base, transport() as pool:
        url = yarl.URL(f"{base}/v1/things?x=%2F", encoded=True)
        got = await pool.exchange("POST", url, FIELDS, b'{"q":1}', LEAN_TIMEOUTS)
        body = b"".join([piece async for piece in got.pieces()])
        await got.aclose()

    head, sent = seen[0]
    assert head.startswith(b"POST /v1/things?x=%2F HTTP/1.1\r\n")
    assert b"\r\nx-trace: a\r\n" in head.lower()
    assert b"\r\ncontent-length: 7\r\n" in head.lower()
    assert sent == b'{"q":1}'
    assert (got.status_code, got.headers["retry-after"], got.headers.get("CONTENT-TYPE")) == (
        429,
        "3",
        "application/json",
    )
    assert body == b'{"ok":true}'


async def test_exchange_without_a_body_is_a_get() -> None:
    seen: list[tuple[bytes, bytes]] = []

    async with serving(replying(answer(b"[]"), seen)) as base, transport() as pool:
        got = await pool.exchange("GET", yarl.URL(f"{base}/models"), FIELDS, None, LEAN_TIMEOUTS)
        await got.aclose()

    assert seen[0] == (seen[0][0], b"")
    assert seen[0][0].startswith(b"GET /models HTTP/1.1\r\n")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_exchange_hands_back_a_compressed_answer_decoded(encoding: str) -> None:
    plain = b'{"ok":true}' * 50
    packed = gzip.compress(plain) if encoding == "gzip" else zlib.compress(plain)

    async with serving(replying(answer(packed, f"Content-Encoding: {encoding}"))) as base, transport() as pool:
        got = await pool.exchange("POST", yarl.URL(f"{base}/z"), FIELDS, b"{}", LEAN_TIMEOUTS)
        body = b"".join([piece async for piece in got.pieces()])
        await got.aclose()

    assert body == plain


# ----------------------------------------------------------------------------------- either way in, alike

WAYS = pytest.mark.parametrize("way", ["httpx", "exchange"])


class Got(Protocol):
    """An answer as a test reads it, whichever way in it came by."""

    def pieces(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class _Raw:
    """An httpx answer, its body read as the transport hands it on."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    def pieces(self) -> AsyncIterator[bytes]:
        return self.response.aiter_raw()

    async def aclose(self) -> None:
        await self.response.aclose()


async def ask(
    pool: SessionTransport, way: str, url: str, *, headers: list[tuple[str, str]] = FIELDS, read: float = 5.0
) -> Got:
    """A POST of `{}` by `handle_async_request()` (`way="httpx"`) or by `exchange()`."""
    if way == "exchange":
        return await pool.exchange("POST", yarl.URL(url, encoded=True), headers, b"{}", client_timeout(5.0, read, 5.0))
    timeouts = httpx.Timeout(5.0, read=read).as_dict()
    built = httpx.Request("POST", url, content=b"{}", headers=headers, extensions={"timeout": timeouts})
    return _Raw(await pool.handle_async_request(built))


@WAYS
async def test_the_body_arrives_piece_by_piece_as_the_server_sends_it(way: str) -> None:
    first_read = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 22\r\n\r\ndata: one\n\n")
        await writer.drain()
        await first_read.wait()  # the second event is sent only once the first has been read
        writer.write(b"data: two\n\n")
        await writer.drain()

    async with serving(handler) as base, transport() as pool:
        got = await ask(pool, way, f"{base}/s")
        pieces = []
        async for piece in got.pieces():
            pieces.append(piece)
            first_read.set()
        await got.aclose()

    assert pieces == [b"data: one\n\n", b"data: two\n\n"]


@WAYS
async def test_a_body_read_to_the_end_frees_its_connection_and_an_abandoned_one_drops_it(way: str) -> None:
    connections: list[int] = []
    abandoned = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head, _ = await read_request(reader)
                if b"/endless" in head:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npart")
                    await writer.drain()
                    await reader.read()  # returns once the client drops the connection
                    abandoned.set()
                    return
                writer.write(answer(b"done"))
                await writer.drain()

    async with serving(handler) as base, transport() as pool:
        for _ in range(2):
            got = await ask(pool, way, f"{base}/whole")
            assert b"".join([piece async for piece in got.pieces()]) == b"done"
            await got.aclose()
        assert connections == [0]  # the second request reused the first connection

        got = await ask(pool, way, f"{base}/endless")
        async for _ in got.pieces():
            break
        await got.aclose()
        await asyncio.wait_for(abandoned.wait(), 5)


@WAYS
async def test_a_refused_connection_is_a_connect_error_with_aiohttp_s_reason_below(way: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with transport() as pool:
        with pytest.raises(httpx.ConnectError) as caught:
            await ask(pool, way, f"http://127.0.0.1:{port}/")
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert "Connect call failed" in str(caught.value)


@WAYS
async def test_a_server_that_does_not_answer_in_time_is_a_read_timeout(way: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()

    async with serving(handler) as base, transport() as pool:
        with pytest.raises(httpx.ReadTimeout):
            await ask(pool, way, f"{base}/slow", read=0.2)


@WAYS
@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"this is not HTTP\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut short",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n",
    ],
    ids=["hung-up", "not-http", "cut-short", "bad-chunk"],
)
async def test_a_broken_answer_is_a_remote_protocol_error(way: str, sent: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(sent)
        await writer.drain()
        writer.close()

    async def read_out(pool: SessionTransport, url: str) -> None:
        got = await ask(pool, way, url)
        try:
            async for _ in got.pieces():
                pass
        finally:
            await got.aclose()

    async with serving(handler) as base, transport() as pool:
        with pytest.raises(httpx.RemoteProtocolError) as caught:  # on the answer's head, or in its body
            await read_out(pool, f"{base}/broken")
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


@WAYS
async def test_a_header_value_with_a_line_break_is_a_local_protocol_error(way: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with serving(handler) as base, transport() as pool:
        with pytest.raises(httpx.LocalProtocolError) as caught:
            await ask(pool, way, f"{base}/", headers=[("x-a", "1\r\nx-b: 2")])
    assert isinstance(caught.value.__cause__, ValueError)
