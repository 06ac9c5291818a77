"""End-to-end fixtures: the real router process in front of the scripted upstream, both on 127.0.0.1."""

from __future__ import annotations

from typing import TYPE_CHECKING

import openai
import pytest

from tests.e2e.upstream import DIALECTS, Upstream
from tests.support.processes import RouterProcess, run_router

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from tests.e2e.upstream import Received

# Distinct, recognisable keys: tests assert they never reach a client or a log line.
UPSTREAM_KEYS = {"openrouter": "sk-or-v1-e2e0secret0openrouter0key", "deepseek": "sk-e2e0secret0deepseek0key"}


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    env = {
        "OPENROUTER_API_KEY": UPSTREAM_KEYS["openrouter"],
        "OPENROUTER_BASE_URL": upstream.base_url("openrouter"),
        "OPENROUTER_APP_URL": "https://example.org/agent",
        "OPENROUTER_APP_TITLE": "llm-router e2e",
        "DEEPSEEK_API_KEY": UPSTREAM_KEYS["deepseek"],
        "DEEPSEEK_BASE_URL": upstream.base_url("deepseek"),
        # The scripted `slow` scenario takes 5 s; a 2 s budget turns it into a timeout.
        "DEEPSEEK_TIMEOUT": "2",
        "OPENROUTER_TIMEOUT": "2",
    }
    yield from run_router(tmp_path_factory.mktemp("router"), env)


@pytest.fixture
def client(router: RouterProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=router.base_url, api_key="sk-client-anything", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def async_client(router: RouterProcess) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=router.base_url, api_key="sk-client-anything", max_retries=0) as sdk:
        yield sdk


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    """Each conformance test runs once per provider: a new adapter joins the suite with its name here."""
    name: str = request.param
    return name


def last_received(upstream: Upstream, dialect: str) -> Received:
    return upstream.last(dialect)
