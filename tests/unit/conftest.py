"""Fixtures for unit tests: the whole app in-process, its upstreams scripted with respx, nothing on the network."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx
from litestar.testing import AsyncTestClient

from .support import build_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from litestar import Litestar

_ENV_PREFIXES = (
    "OPENROUTER_",
    "DEEPSEEK_",
    "ANTHROPIC_",
    "MOCK_",
    "LLM_ROUTER_",
    "REDIS_URL",
    "PROMETHEUS_MULTIPROC_DIR",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider key or router setting from the machine running the tests leaks into them."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def upstream() -> Iterator[respx.MockRouter]:
    """The scripted upstreams. A request that no route matches fails the test."""
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    yield router
    router.reset()


@pytest.fixture
async def http(upstream: respx.MockRouter) -> AsyncIterator[httpx.AsyncBaseTransport]:
    """The upstream transport the app sends through: respx's routes, and nothing else."""
    transport = httpx.MockTransport(upstream.async_handler)
    yield transport
    await transport.aclose()


@pytest.fixture
def make_client(
    http: httpx.AsyncBaseTransport,
) -> Callable[..., contextlib.AbstractAsyncContextManager[AsyncTestClient[Litestar]]]:
    """`async with make_client(**values) as client`: the app from these `Settings` values, or `settings=`."""

    @contextlib.asynccontextmanager
    async def make(**settings: Any) -> AsyncIterator[AsyncTestClient[Litestar]]:
        async with AsyncTestClient(build_app(http, **settings)) as client:
            yield client

    return make


@pytest.fixture
async def client(
    make_client: Callable[..., contextlib.AbstractAsyncContextManager[AsyncTestClient[Litestar]]],
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of the app with OpenRouter and DeepSeek configured (test keys, test base URLs) and the mock."""
    async with make_client() as test_client:
        yield test_client
