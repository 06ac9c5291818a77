"""The shared upstream plumbing (`providers.transport`) as a client sees it: size limits, keys, broken connections.

Most tests script the upstream with respx. The connection tests use the router's real transport against
sockets on 127.0.0.1 instead: respx replaces the cause of the exceptions it raises, and the cause is what
tells a dead upstream from a slow one.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import socket
import struct
import threading
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from app.server import upstream_transport
from app.settings import Settings
from providers.openrouter import OpenRouterSettings
from providers.transport import UpstreamHTTP

from .scripted import answer as scripted_answer
from .scripted import replying, serving
from .support import (
    DEEPSEEK_BASE,
    DEEPSEEK_CHAT,
    DEEPSEEK_TABLE,
    OPENROUTER_BASE,
    OPENROUTER_CHAT,
    USER_HI,
    assert_error,
    assert_stream_error,
    build_app,
    chunk,
    json_response,
    parse_sse,
    sse,
    streamed,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    import respx
    from litestar import Litestar

    Client = AsyncTestClient[Litestar]

# A key of a real key's length, so a test can tell whether part of it got through.
KEY = "sk-or-v1-" + "0123456789abcdef" * 4
MODEL = "openrouter/some/model"
LIMITS = {"max_response_bytes": 4096, "max_event_bytes": 1024}


def completion(content: str = "Hi") -> bytes:
    return json.dumps(
        {
            "id": "gen-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        }
    ).encode()


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[Client]:
    """OpenRouter with a full-length key; DeepSeek as configured everywhere else."""
    table = {"api_key": KEY, "base_url": OPENROUTER_BASE}
    async with make_client(providers={"openrouter": table, "deepseek": DEEPSEEK_TABLE}) as test_client:
        yield test_client


@pytest.fixture
async def limited(make_client: Any) -> AsyncIterator[Client]:
    """The same, with OpenRouter's answers limited to 4 KiB and its stream events to 1 KiB."""
    table = {"api_key": KEY, "base_url": OPENROUTER_BASE, **LIMITS}
    async with make_client(providers={"openrouter": table, "deepseek": DEEPSEEK_TABLE}) as test_client:
        yield test_client


async def ask(client: Client, model: str = MODEL, **fields: Any) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={"model": model, "messages": USER_HI, **fields})


def assert_no_key(response: httpx.Response, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the key nor any long part of it reached the client or a log record."""
    for start in range(len(KEY) - 12):
        part = KEY[start : start + 12]
        assert part not in response.text
        assert part not in caplog.text
    for name, value in response.headers.items():
        assert KEY[:12] not in value, name


# -------------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
async def test_an_answer_over_max_response_bytes_fails_the_attempt(
    limited: Client, upstream: respx.MockRouter, declared: bool
) -> None:
    big = completion("x" * 5000)
    read: list[int] = []

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 512):
            read.append(start)
            yield big[start : start + 512]

    headers = {"content-type": "application/json"}
    if declared:
        headers["content-length"] = str(len(big))
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(200, content=pieces(), headers=headers))

    response = await ask(limited)

    error = assert_error(response, 502, code="upstream_response_too_large")
    assert "max_response_bytes" in error["message"]
    assert "OPENROUTER_MAX_RESPONSE_BYTES" in error["message"]
    assert response.headers["x-should-retry"] == "false"
    # Reading stops at the limit; a declared length over it is refused before reading anything.
    assert len(read) == (0 if declared else 9)


async def test_an_answer_at_max_response_bytes_is_served(limited: Client, upstream: respx.MockRouter) -> None:
    exact = completion("x" * (4096 - len(completion(""))))
    assert len(exact) == 4096
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(exact, sizes=[100], content_type="application/json"))

    response = await ask(limited)

    assert response.status_code == 200


async def test_a_stream_event_over_max_event_bytes_before_the_first_chunk_is_an_http_error(
    limited: Client, upstream: respx.MockRouter
) -> None:
    endless = b"data: " + b"x" * 100_000
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(endless, sizes=[700]))

    response = await ask(limited, stream=True)

    error = assert_error(response, 502, code="upstream_response_too_large")
    assert "max_event_bytes" in error["message"]


async def test_a_stream_event_over_max_event_bytes_after_the_first_chunk_ends_the_stream(
    limited: Client, upstream: respx.MockRouter
) -> None:
    first = chunk({"role": "assistant", "content": "Hi"})
    body = sse(first, done=False) + b"data: " + b"x" * 100_000
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(body, sizes=[700]))

    response = await ask(limited, stream=True)

    assert response.status_code == 200
    assert assert_stream_error(response.text)["code"] == "upstream_response_too_large"


async def test_a_long_stream_of_small_events_is_not_limited(limited: Client, upstream: respx.MockRouter) -> None:
    # The limits bound what is held at once, not what passes through.
    pieces = [chunk({"content": "y" * 100}) for _ in range(200)] + [chunk({}, "stop")]
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(sse(*pieces), sizes=[1000]))

    response = await ask(limited, stream=True)

    assert response.status_code == 200
    assert parse_sse(response.text)[-1] == "[DONE]"


async def test_an_alias_falls_back_past_an_answer_too_large(make_client: Any, upstream: respx.MockRouter) -> None:
    providers = {"openrouter": {"api_key": KEY, "base_url": OPENROUTER_BASE, **LIMITS}, "deepseek": DEEPSEEK_TABLE}
    aliases = {"smart": {"targets": [MODEL, "deepseek/deepseek-chat"]}}
    upstream.get(f"{OPENROUTER_BASE}/models").mock(return_value=json_response(b'{"data": []}'))
    upstream.get(f"{DEEPSEEK_BASE}/models").mock(return_value=json_response(b'{"data": []}'))
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(completion("x" * 5000)))
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(completion("from deepseek")))

    async with make_client(providers=providers, models=aliases) as client:
        response = await ask(client, "smart")

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "from deepseek"
    assert response.headers["x-llm-router-target"] == "deepseek/deepseek-chat"


async def test_limits_come_from_the_environment(
    make_client: Any, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_MAX_RESPONSE_BYTES", "100")
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(completion()))

    async with make_client(providers={"openrouter": {"api_key": KEY, "base_url": OPENROUTER_BASE}}) as client:
        response = await ask(client)

    assert_error(response, 502, code="upstream_response_too_large")


# ------------------------------------------------------------------------------------------------- secrets


async def test_a_stream_answered_with_plain_text_quoting_the_key(
    client: Client, upstream: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    body = f"Upstream proxy: request with Authorization: Bearer {KEY} was not forwarded".encode()
    upstream.post(OPENROUTER_CHAT).mock(
        return_value=httpx.Response(200, content=body, headers={"content-type": "text/plain"})
    )

    response = await ask(client, stream=True)

    error = assert_error(response, 502, code="upstream_invalid_response")
    assert "not forwarded" in error["message"]
    assert_no_key(response, caplog)


@pytest.mark.parametrize("field", ["code", "type", "param", "message"])
async def test_an_error_field_holding_the_key(
    client: Client, upstream: respx.MockRouter, caplog: pytest.LogCaptureFixture, field: str
) -> None:
    envelope = {"message": "Invalid request", "type": "invalid_request_error", "param": None, "code": "bad"}
    envelope[field] = KEY
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(json.dumps({"error": envelope}).encode(), 400))

    response = await ask(client)

    assert response.status_code == 400
    assert_no_key(response, caplog)


@pytest.mark.parametrize("offset", [440, 460, 480])
async def test_a_plain_text_error_cut_inside_the_key(
    client: Client, upstream: respx.MockRouter, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    body = b"e" * offset + KEY.encode() + b" was refused"
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(500, content=body))

    response = await ask(client)

    assert_error(response, 502, code="upstream_error")
    assert_no_key(response, caplog)


async def test_a_content_type_quoting_the_key(
    client: Client, upstream: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"content-type": f"text/html; key={KEY}"}
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(200, content=b"<html></html>", headers=headers))

    response = await ask(client, stream=True)

    assert_error(response, 502, code="upstream_invalid_response")
    assert_no_key(response, caplog)


async def test_an_answer_echoing_the_key_is_redacted(
    client: Client, upstream: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(completion(f"Your header was Bearer {KEY}")))

    response = await ask(client)

    assert response.json()["choices"][0]["message"]["content"] == "Your header was Bearer [redacted]"
    assert_no_key(response, caplog)


async def test_a_stream_echoing_the_key_is_redacted(
    client: Client, upstream: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    pieces = [chunk({"role": "assistant", "content": f"key {KEY}"}), chunk({}, "stop")]
    # In pieces that cut the key in two: it is whole again by the time its event is.
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(sse(*pieces), sizes=[150, 7]))

    response = await ask(client, stream=True)

    assert parse_sse(response.text)[0]["choices"][0]["delta"]["content"] == "key [redacted]"
    assert_no_key(response, caplog)


async def test_a_compressed_answer_is_decoded(client: Client, upstream: respx.MockRouter) -> None:
    packed = gzip.compress(completion("Unpacked"))
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(200, content=packed, headers=headers))

    response = await ask(client)

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Unpacked"


async def test_a_compressed_stream_is_decoded(client: Client, upstream: respx.MockRouter) -> None:
    packed = gzip.compress(sse(chunk({"role": "assistant", "content": "Unpacked"}), chunk({}, "stop")))
    headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(200, content=packed, headers=headers))

    response = await ask(client, stream=True)

    assert parse_sse(response.text)[0]["choices"][0]["delta"]["content"] == "Unpacked"


# ---------------------------------------------------------------------------------------------- connection


@contextlib.contextmanager
def loopback_server(
    on_request: Callable[[socket.socket], None], on_bytes: Callable[[bytes], None] | None = None
) -> Iterator[int]:
    """A TCP server on 127.0.0.1 calling `on_request` once a request arrives, never answering; yields its port.

    It runs in a thread of its own: the test client runs the app on an event loop in another thread, and
    blocks the test's loop while it waits for an answer.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listener was closed: the test is over
            while True:
                connection, _ = listener.accept()
                received = connection.recv(65536)
                if on_bytes is not None:
                    on_bytes(received)
                held.append(connection)
                on_request(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the thread's accept(), which close() alone does not
        listener.close()
        for connection in held:
            connection.close()
        thread.join(timeout=5)


def hang_up(connection: socket.socket) -> None:
    connection.close()


def reset(connection: socket.socket) -> None:
    """Drop the connection with a TCP reset."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


@contextlib.asynccontextmanager
async def real_transport_client(base_url: str, **settings: Any) -> AsyncIterator[Client]:
    """The app sending to `base_url` for OpenRouter through the transport the server itself uses."""
    transport = upstream_transport(Settings())
    table = {"api_key": KEY, "base_url": base_url, **settings}
    try:
        async with AsyncTestClient(build_app(transport, providers={"openrouter": table})) as client:
            yield client
    finally:
        await transport.aclose()


async def test_a_cookie_an_upstream_sets_is_not_sent_with_the_next_request() -> None:
    cookies: list[str | None] = []
    answer = completion()

    def answer_with_a_cookie(connection: socket.socket) -> None:
        connection.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nset-cookie: __cf_bm=abc; Path=/\r\n"
            + b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(answer), answer)
        )
        connection.close()

    def record(request: bytes) -> None:
        head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        found = [line.split(":", 1)[1].strip() for line in head if line.lower().startswith("cookie:")]
        cookies.append(found[0] if found else None)

    # `localhost`, not an address: aiohttp's cookie jar takes no cookies from an IP address.
    with loopback_server(answer_with_a_cookie, on_bytes=record) as port:
        async with real_transport_client(f"http://localhost:{port}/api/v1") as client:
            first, second = await ask(client), await ask(client)

    assert (first.status_code, second.status_code) == (200, 200)
    assert cookies == [None, None]


@pytest.mark.parametrize("drop", [hang_up, reset], ids=["closed", "reset"])
async def test_a_connection_dropped_before_any_byte_is_a_connection_error(
    caplog: pytest.LogCaptureFixture, drop: Callable[[socket.socket], None]
) -> None:
    with loopback_server(drop) as port:
        async with real_transport_client(f"http://127.0.0.1:{port}/api/v1") as client:
            with caplog.at_level(logging.WARNING):
                response = await ask(client)

    error = assert_error(response, 502, code="upstream_connection_error")
    # The upstream was reached: it hung up, which the message says along with how.
    cause = "ServerDisconnectedError: Server disconnected" if drop is hang_up else "ClientOSError: [Errno"
    assert error["message"].startswith(
        f"The connection to openrouter at http://127.0.0.1:{port}/api/v1/chat/completions failed ({cause}"
    )
    assert error["message"] in caplog.text


async def test_an_unreachable_upstream_is_named_with_its_url_and_cause(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens on it
    async with real_transport_client(f"http://127.0.0.1:{port}/api/v1") as client:
        with caplog.at_level(logging.WARNING):
            response = await ask(client)

    error = assert_error(response, 502, code="upstream_connection_error")
    message = error["message"]
    assert message.startswith(f"Could not reach openrouter at http://127.0.0.1:{port}/api/v1/chat/completions (")
    assert "Connect call failed" in message
    assert message in caplog.text


async def test_an_upstream_that_does_not_answer_in_time_is_still_a_timeout() -> None:
    with loopback_server(lambda connection: None) as port:
        async with real_transport_client(f"http://127.0.0.1:{port}/api/v1", timeout=0.3) as client:
            response = await ask(client)

    assert_error(response, 504, code="upstream_timeout")


# ------------------------------------------------------------------- the same guarantees on the server's pool
# The server's own transport reads answers by `SessionTransport.exchange()`, not through httpx's models,
# which respx mocks: these run the app on it against answers written byte for byte.


def answering(*fields: str, body: bytes, sized: bool = True) -> Callable[[socket.socket], None]:
    """A loopback server's `on_request` writing one answer (`scripted.answer`) and closing the connection."""
    whole = scripted_answer(body, *fields, "Connection: close", sized=sized)

    def answer(connection: socket.socket) -> None:
        connection.sendall(whole)
        connection.close()

    return answer


async def test_on_the_server_pool_an_answer_or_stream_echoing_the_key_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    whole = completion(f"Your header was Bearer {KEY}")
    events = sse(chunk({"role": "assistant", "content": f"key {KEY}"}), chunk({}, "stop"))
    with loopback_server(answering("Content-Type: application/json", body=whole)) as port:
        async with real_transport_client(f"http://127.0.0.1:{port}/api/v1") as client:
            response = await ask(client)
    assert response.json()["choices"][0]["message"]["content"] == "Your header was Bearer [redacted]"
    assert_no_key(response, caplog)

    with loopback_server(answering("Content-Type: text/event-stream", body=events)) as port:
        async with real_transport_client(f"http://127.0.0.1:{port}/api/v1") as client:
            response = await ask(client, stream=True)
    assert parse_sse(response.text)[0]["choices"][0]["delta"]["content"] == "key [redacted]"
    assert_no_key(response, caplog)


@pytest.mark.parametrize("declared", [False, True], ids=["unsized", "content-length"])
async def test_on_the_server_pool_an_answer_over_max_response_bytes_fails_the_attempt(declared: bool) -> None:
    large = completion("x" * 5000)
    with loopback_server(answering("Content-Type: application/json", body=large, sized=declared)) as port:
        async with real_transport_client(f"http://127.0.0.1:{port}/api/v1", **LIMITS) as client:
            response = await ask(client)

    error = assert_error(response, 502, code="upstream_response_too_large")
    assert "4096 bytes" in error["message"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_on_the_server_pool_a_compressed_answer_is_decoded(stream: bool) -> None:
    if stream:
        kind, plain = "text/event-stream", sse(chunk({"role": "assistant", "content": "Unpacked"}), chunk({}, "stop"))
    else:
        kind, plain = "application/json", completion("Unpacked")
    packed = gzip.compress(plain)
    on_request = answering(f"Content-Type: {kind}", "Content-Encoding: gzip", body=packed)
    with loopback_server(on_request) as port:
        async with real_transport_client(f"http://127.0.0.1:{port}/api/v1") as client:
            response = await ask(client, stream=stream)

    assert response.status_code == 200
    if stream:
        assert parse_sse(response.text)[0]["choices"][0]["delta"]["content"] == "Unpacked"
    else:
        assert response.json()["choices"][0]["message"]["content"] == "Unpacked"


async def test_on_the_server_pool_each_request_goes_to_its_own_url() -> None:
    seen: list[tuple[bytes, bytes]] = []

    transport = upstream_transport(Settings())
    try:
        async with serving(replying(scripted_answer(b"{}"), seen)) as base:
            http = UpstreamHTTP(
                "openrouter",
                transport,
                OpenRouterSettings(api_key=KEY, base_url=base),
                headers={"content-type": "application/json"},
                error_from_response=lambda *_: pytest.fail("no request fails"),
            )
            chat, models = httpx.URL(f"{base}/chat?x=%2F"), httpx.URL(f"{base}/models")
            for url, body in [(chat, b"{}"), (models, None), (chat, b"{}"), (httpx.URL(f"{base}/chat?x=%2F"), b"{}")]:
                assert await http.fetch(url, body) == b"{}"
    finally:
        await transport.aclose()

    lines = [head.split(b"\r\n", 1)[0] for head, _ in seen]
    assert lines == [b"POST /chat?x=%2F HTTP/1.1", b"GET /models HTTP/1.1", *[b"POST /chat?x=%2F HTTP/1.1"] * 2]
