"""The ASGI application on granian's RSGI interface: what the server sees, for what the application sends."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pytest
from granian._granian import RSGIProtocolClosed as ProtocolClosed
from litestar import Litestar, get, post
from litestar.params import JSONBody
from litestar.response import Stream

from app.rsgi import RSGIServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from litestar.types import HTTPScope, Receive, Scope, Send


@dataclass
class FakeScope:
    """What granian hands `__rsgi__` for an HTTP request."""

    path: str = "/"
    method: str = "GET"
    query_string: str = ""
    headers: FakeHeaders = field(default_factory=lambda: FakeHeaders([]))
    client: str = "127.0.0.1:50000"
    server: str = "127.0.0.1:8000"
    proto: str = "http"
    http_version: str = "1.1"
    scheme: str = "http"


@dataclass
class FakeHeaders:
    pairs: list[tuple[str, str]]

    def items(self) -> list[tuple[str, str]]:
        return list(self.pairs)


class FakeStream:
    def __init__(self, protocol: FakeProtocol) -> None:
        self.protocol = protocol

    async def send_bytes(self, data: bytes) -> None:
        if self.protocol.closed:
            raise ProtocolClosed("closed")
        self.protocol.sent.append(data)


class FakeProtocol:
    """Granian's request protocol: the body in one call or in chunks, and one way to answer."""

    def __init__(self, body: bytes = b"", chunks: list[bytes] | None = None) -> None:
        self.body = body
        self.chunks = chunks
        self.calls = 0
        self.answer: tuple[str, int, list[tuple[str, str]]] | None = None
        self.sent: list[bytes] = []
        self.closed = False
        self.disconnected = asyncio.Event()

    async def __call__(self) -> bytes:
        self.calls += 1
        return self.body

    def __aiter__(self) -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in self.chunks or ():
                yield chunk

        return chunks()

    async def client_disconnect(self) -> None:
        await self.disconnected.wait()

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answer = ("bytes", status, headers)
        self.sent.append(body)

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.answer = ("empty", status, headers)

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> FakeStream:
        self.answer = ("stream", status, headers)
        return FakeStream(self)


class Recorder:
    """A bare ASGI app that keeps its scope and the messages it received, then answers as told."""

    def __init__(self, *answer: dict[str, Any], reads: int = 1) -> None:
        self.answer = answer
        self.reads = reads
        self.scope: Scope | None = None
        self.received: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        for _ in range(self.reads):
            self.received.append(dict(await receive()))
        for message in self.answer:
            await send(message)  # type: ignore[arg-type]


START = {"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"application/json")]}


async def test_a_whole_answer_goes_out_in_one_call_with_the_request_in_asgi_form() -> None:
    app = Recorder(START, {"type": "http.response.body", "body": b'{"ok":true}'})
    scope = FakeScope(
        path="/v1/chat completions",
        method="POST",
        query_string="a=%20b",
        headers=FakeHeaders([("content-type", "application/json"), ("content-length", "2"), ("x-a", "1")]),
        client="[::1]:41000",
    )
    protocol = FakeProtocol(b"{}")

    await RSGIServer(app).__rsgi__(scope, protocol)  # type: ignore[arg-type]

    assert protocol.answer == ("bytes", 201, [("content-type", "application/json")])
    assert protocol.sent == [b'{"ok":true}']
    assert app.received == [{"type": "http.request", "body": b"{}", "more_body": False}]
    assert protocol.calls == 1
    asgi = cast("HTTPScope", app.scope)
    assert (asgi["type"], asgi["method"], asgi["path"], asgi["query_string"]) == (
        "http",
        "POST",
        "/v1/chat completions",
        b"a=%20b",
    )
    assert asgi["headers"] == [(b"content-type", b"application/json"), (b"content-length", b"2"), (b"x-a", b"1")]
    assert asgi["client"] == ("::1", 41000)
    assert asgi["server"] == ("127.0.0.1", 8000)


async def test_a_query_string_with_raw_utf_8_reaches_the_app_as_the_client_sent_it() -> None:
    app = Recorder(START, {"type": "http.response.body", "body": b""}, reads=0)

    await RSGIServer(app).__rsgi__(FakeScope(query_string="q=café €"), FakeProtocol())  # type: ignore[arg-type]

    assert cast("HTTPScope", app.scope)["query_string"] == "q=café €".encode()


@pytest.mark.parametrize(("rsgi", "asgi"), [("1", "1.0"), ("1.1", "1.1"), ("2", "2")])
async def test_the_http_version_is_named_as_asgi_names_it(rsgi: str, asgi: str) -> None:
    app = Recorder(START, {"type": "http.response.body", "body": b""}, reads=0)

    await RSGIServer(app).__rsgi__(FakeScope(http_version=rsgi), FakeProtocol())  # type: ignore[arg-type]

    assert cast("HTTPScope", app.scope)["http_version"] == asgi


async def test_a_body_of_unknown_length_arrives_chunk_by_chunk() -> None:
    app = Recorder(START, {"type": "http.response.body", "body": b""}, reads=3)
    protocol = FakeProtocol(chunks=[b"ab", b"cd"])

    await RSGIServer(app).__rsgi__(FakeScope(method="POST"), protocol)  # type: ignore[arg-type]

    assert app.received == [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]
    assert protocol.calls == 0


async def test_after_the_body_receive_waits_for_the_client_to_leave() -> None:
    app = Recorder(START, {"type": "http.response.body", "body": b""}, reads=2)
    protocol = FakeProtocol(b"{}")
    scope = FakeScope(method="POST", headers=FakeHeaders([("content-length", "2")]))

    served = asyncio.create_task(RSGIServer(app).__rsgi__(scope, protocol))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert not served.done()  # the second receive() waits
    protocol.disconnected.set()
    await served

    assert app.received[1] == {"type": "http.disconnect"}


async def test_a_listener_for_the_disconnect_hears_of_the_answer_s_end_as_asgi_says() -> None:
    heard: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the body
        listener = asyncio.ensure_future(receive())  # as a streaming response listens
        await send(START)  # type: ignore[arg-type]
        await send({"type": "http.response.body", "body": b"1", "more_body": True})
        await asyncio.sleep(0)
        assert not listener.done()  # the client is still there, and the answer not over
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        heard.append(dict(await listener))
        heard.append(dict(await receive()))  # and at once from then on

    scope = FakeScope(method="POST", headers=FakeHeaders([("content-length", "2")]))
    await RSGIServer(app).__rsgi__(scope, FakeProtocol(b"{}"))  # type: ignore[arg-type]

    assert heard == [{"type": "http.disconnect"}, {"type": "http.disconnect"}]


async def test_a_streamed_answer_is_written_piece_by_piece() -> None:
    app = Recorder(
        START,
        {"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True},
        {"type": "http.response.body", "body": b"data: 2\n\n", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
        reads=0,
    )
    protocol = FakeProtocol()

    await RSGIServer(app).__rsgi__(FakeScope(), protocol)  # type: ignore[arg-type]

    assert protocol.answer == ("stream", 201, [("content-type", "application/json")])
    assert protocol.sent == [b"data: 1\n\n", b"data: 2\n\n"]


async def test_a_client_that_leaves_during_its_upload_is_a_disconnect() -> None:
    app = Recorder(reads=2)
    scope = FakeScope(method="POST", headers=FakeHeaders([("content-length", "100000")]))

    await RSGIServer(app).__rsgi__(scope, ClosedProtocol())  # type: ignore[arg-type]

    assert app.received == [{"type": "http.disconnect"}, {"type": "http.disconnect"}]


class ClosedProtocol(FakeProtocol):
    async def __call__(self) -> bytes:
        raise ProtocolClosed("RSGI transport is closed")


async def test_writing_to_a_client_that_left_raises_what_asgi_servers_raise() -> None:
    app = Recorder(START, {"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True}, reads=0)
    protocol = FakeProtocol()
    protocol.closed = True

    with pytest.raises(ConnectionResetError):
        await RSGIServer(app).__rsgi__(FakeScope(), protocol)  # type: ignore[arg-type]


async def test_an_answer_started_without_a_body_is_sent_empty() -> None:
    app = Recorder(START, reads=0)
    protocol = FakeProtocol()

    await RSGIServer(app).__rsgi__(FakeScope(), protocol)  # type: ignore[arg-type]

    assert protocol.answer == ("empty", 201, [("content-type", "application/json")])


def test_the_lifespan_runs_before_serving_and_after_stopping() -> None:
    events: list[str] = []

    @get("/")
    async def index() -> str:
        return "hi"

    @post("/echo")
    async def echo(data: JSONBody[dict[str, int]]) -> Stream:
        async def pieces() -> AsyncIterator[bytes]:
            yield str(data["n"]).encode()

        return Stream(pieces())

    app = Litestar([index, echo], on_startup=[lambda: events.append("up")], on_shutdown=[lambda: events.append("down")])
    server = RSGIServer(app)
    loop = asyncio.new_event_loop()
    try:
        server.__rsgi_init__(loop)
        assert events == ["up"]
        protocol = FakeProtocol(b'{"n": 7}')
        scope = FakeScope(path="/echo", method="POST", headers=FakeHeaders([("content-length", "8")]))
        loop.run_until_complete(server.__rsgi__(scope, protocol))  # type: ignore[arg-type]
        assert protocol.answer is not None
        assert protocol.answer[:2] == ("stream", 201)
        assert b"".join(protocol.sent) == b"7"
        server.__rsgi_del__(loop)
        assert events == ["up", "down"]
    finally:
        loop.close()


def test_a_failed_startup_stops_the_worker() -> None:
    def broken() -> None:
        raise RuntimeError("no database")

    server = RSGIServer(Litestar([], on_startup=[broken], logging_config=None))
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(SystemExit):
            server.__rsgi_init__(loop)
    finally:
        loop.close()


def test_a_failed_shutdown_is_logged_and_the_worker_still_stops(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("the database went first")

    server = RSGIServer(Litestar([], on_shutdown=[broken], logging_config=None))
    loop = asyncio.new_event_loop()
    try:
        server.__rsgi_init__(loop)
        server.__rsgi_del__(loop)
    finally:
        loop.close()

    assert "the application's shutdown failed" in caplog.text
    assert "the database went first" in caplog.text
