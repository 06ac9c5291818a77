"""The application as a whole: building it, health, provider discovery, response headers."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import httpx
from litestar.testing import AsyncTestClient

from app.server import create_app
from app.settings import Settings

from .support import USER_HI, stream_of

if TYPE_CHECKING:
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
