"""The application as a whole: building it, health, provider discovery, response headers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import warnings
from typing import TYPE_CHECKING, Any

import httpx
from litestar.testing import AsyncTestClient

from app.server import create_app
from app.settings import Settings

from .support import OPENROUTER_CHAT, USER_HI, build_app, chunk, sse, stream_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import respx
    from litestar import Litestar

    Client = AsyncTestClient[Litestar]


def test_building_the_app_warns_about_nothing(http: httpx.AsyncBaseTransport) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_app(Settings(), transport=http)


async def test_health(client: Client) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_installed_providers_are_discovered(http: httpx.AsyncBaseTransport) -> None:
    app = create_app(Settings(), transport=http)
    async with AsyncTestClient(app) as client:
        missing = await client.post("/v1/chat/completions", json={"model": "x/y", "messages": USER_HI})
        answered = await client.post("/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI})

    message = missing.json()["error"]["message"]
    for name in ("openrouter", "deepseek", "mock"):
        assert f"'{name}/<model id>'" in message
    assert answered.status_code == 200


async def test_answers_name_the_target_that_served_them(client: Client) -> None:
    response = await client.post("/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI})

    assert response.headers["x-llm-router-target"] == "mock/text"


async def test_stream_headers(client: Client) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": "mock/text", "messages": USER_HI, "stream": True}
    )

    stream_of(response)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-llm-router-target"] == "mock/text"


class _ClosingSpy(httpx.MockTransport):
    closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_an_injected_upstream_transport_is_left_to_its_owner(upstream: respx.MockRouter) -> None:
    transport = _ClosingSpy(upstream.async_handler)

    async with AsyncTestClient(create_app(Settings(), transport=transport)) as client:
        assert (await client.get("/health")).status_code == 200

    assert not transport.closed


class _EndlessBody(httpx.AsyncByteStream):
    """An upstream stream that sends its first chunk and then nothing, until it is closed."""

    closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield sse(chunk({"role": "assistant", "content": "Hi"}), done=False)
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


async def test_a_client_gone_as_its_stream_starts_frees_the_upstream(
    upstream: respx.MockRouter, http: httpx.AsyncBaseTransport
) -> None:
    body = _EndlessBody()
    headers = {"content-type": "text/event-stream"}
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(200, headers=headers, stream=body))
    app = build_app(http)
    request = json.dumps({"model": "openrouter/some/model", "messages": USER_HI, "stream": True}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    messages = iter([{"type": "http.request", "body": request, "more_body": False}])

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            raise OSError("the client went away")  # what the server reports for a closed connection

    with contextlib.suppress(Exception):  # the server's own error, whatever the framework wraps it in
        await app(scope, receive, send)  # type: ignore[arg-type]

    assert body.closed
    snapshot = await app.state.services.board.snapshot()
    assert [status.in_flight for status in snapshot] == [0]
