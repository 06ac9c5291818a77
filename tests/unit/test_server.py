"""The application as a whole: building it, health, provider discovery, response headers."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from litestar.testing import AsyncTestClient

from app.server import create_app
from app.settings import Settings

from .support import USER_HI, stream_of

if TYPE_CHECKING:
    import httpx
    from litestar import Litestar

    Client = AsyncTestClient[Litestar]


def test_building_the_app_warns_about_nothing(http: httpx.AsyncClient) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_app(Settings(), http_client=http)


async def test_health(client: Client) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_installed_providers_are_discovered(http: httpx.AsyncClient) -> None:
    app = create_app(Settings(), http_client=http)
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


async def test_the_shared_http_client_is_left_open_for_its_owner(make_client: Any, http: httpx.AsyncClient) -> None:
    async with make_client() as client:
        assert (await client.get("/health")).status_code == 200

    assert not http.is_closed
