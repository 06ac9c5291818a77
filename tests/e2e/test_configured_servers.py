"""OpenAI-compatible servers from the configuration file, each quirk switch on and off, through the real router.

The scripted server (`tests.e2e.upstreams.configured`) refuses what strict OpenAI-compatible servers refuse. A
router with one provider per switch left off (the others on) shows that each switch is what lets its request
through, and that it changes only that; the conformance suite runs the provider with every switch on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import openai
import pytest

from tests.e2e.chat_requests import QUESTION, WEATHER
from tests.e2e.upstreams.configured import QUIRKS, ConfiguredDialect, provider_table
from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

SERVER = ConfiguredDialect()
HISTORY: list[Any] = [
    *QUESTION,
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]
# The request that needs each switch.
NEEDS: dict[str, dict[str, Any]] = {
    "developer_as_system": {"messages": [{"role": "developer", "content": "Be brief."}, *QUESTION]},
    "empty_content_with_tool_calls": {"messages": HISTORY, "tools": [WEATHER]},
    "no_parallel_tool_calls": {"messages": QUESTION, "tools": [WEATHER], "parallel_tool_calls": False},
    "no_stream_options": {"messages": QUESTION, "stream": True},
    "max_tokens_only": {"messages": QUESTION, "max_completion_tokens": 200},
    "no_reasoning_fields": {
        "messages": [
            *QUESTION,
            {
                "role": "assistant",
                "content": "Sunny.",
                "reasoning_details": [{"type": "reasoning.text", "text": "Easy."}],
            },
            *QUESTION,
        ]
    },
}


def without(quirk: str) -> str:
    return f"without-{quirk.replace('_', '-')}"


@pytest.fixture(scope="module")
def servers_router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory: Path = tmp_path_factory.mktemp("configured")
    base_url = upstream.base_url(SERVER.name)
    config = provider_table("every-quirk", base_url, SERVER.key_env, list(QUIRKS))
    for quirk in QUIRKS:
        config += provider_table(without(quirk), base_url, SERVER.key_env, [each for each in QUIRKS if each != quirk])
    path = directory / "llm-router.toml"
    path.write_text(config, encoding="utf-8")
    yield from run_router(directory, {SERVER.key_env: SERVER.key}, ("--config", str(path)))


@pytest.fixture
def sdk(servers_router: RouterProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=servers_router.base_url, api_key="unused", max_retries=0) as client:
        yield client


def ask(client: openai.OpenAI, provider: str, request: dict[str, Any]) -> str:
    """The answer's text (a stream's, put together)."""
    if request.get("stream"):
        stream = client.chat.completions.create(model=f"{provider}/text", **request)
        return "".join(choice.delta.content or "" for chunk in stream for choice in chunk.choices)
    completion = client.chat.completions.create(model=f"{provider}/text", **request)
    return completion.choices[0].message.content or ""


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_each_quirk_switch_lets_its_request_through(sdk: openai.OpenAI, upstream: Upstream, quirk: str) -> None:
    request = NEEDS[quirk]

    assert ask(sdk, "every-quirk", request)
    with pytest.raises(openai.BadRequestError) as refused:
        ask(sdk, without(quirk), request)

    assert QUIRKS[quirk] in refused.value.message
    assert upstream.last(SERVER.name).headers["authorization"] == f"Bearer {SERVER.key}"


def test_the_servers_models_are_listed_under_each_name(sdk: openai.OpenAI) -> None:
    ids = {model.id for model in sdk.models.list()}

    assert {"every-quirk/llama3.1:8b", f"{without('max_tokens_only')}/llama3.1:8b"} <= ids
