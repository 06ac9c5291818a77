"""End-to-end fixtures: the real router process in front of the scripted upstream, both on 127.0.0.1.

The router is pointed at every dialect in the registry (`tests.e2e.upstreams.DIALECTS`), and `dialect`
runs a test once per entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import openai
import pytest

from tests.e2e.tools.servers import ToolServer
from tests.e2e.upstreams import DIALECTS, OpenAIWireDialect, Upstream
from tests.support.processes import RouterProcess, run_router
from tests.support.redis import RedisServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from tests.e2e.upstreams import Dialect


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = Upstream(DIALECTS)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the module's own, so no module sees another's keys (a module may override it)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tool_server() -> Iterator[ToolServer]:
    """The HTTP tool servers the registry and agent tests call (webhooks, an OpenAPI document)."""
    server = ToolServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("router")
    env: dict[str, str] = {}
    config = ""
    for each in DIALECTS:
        env |= each.router_env(upstream.base_url(each.name))
        config += each.router_config(upstream.base_url(each.name))
    args: tuple[str, ...] = ()
    if config:
        path = directory / "llm-router.toml"
        path.write_text(config, encoding="utf-8")
        args = ("--config", str(path))
    yield from run_router(directory, env, args)


@pytest.fixture
def client(router: RouterProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=router.base_url, api_key="sk-client-anything", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def async_client(router: RouterProcess) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=router.base_url, api_key="sk-client-anything", max_retries=0) as sdk:
        yield sdk


@pytest.fixture(params=DIALECTS, ids=lambda each: each.name)
def dialect(request: pytest.FixtureRequest) -> Dialect:
    """Each conformance test runs once per registered dialect: a new provider joins with its registry entry."""
    each: Dialect = request.param
    return each


@pytest.fixture(
    params=[each for each in DIALECTS if isinstance(each, OpenAIWireDialect) and each.forwards_as_sent],
    ids=lambda each: each.name,
)
def openai_dialect(request: pytest.FixtureRequest) -> OpenAIWireDialect:
    """Each registered dialect that speaks OpenAI's wire format and to which the router forwards requests as sent."""
    each: OpenAIWireDialect = request.param
    return each
