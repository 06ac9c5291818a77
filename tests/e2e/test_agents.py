"""Agents end to end: a real router runs registry tools on a local tool server inside the model loop.

The agents' models are the mock provider and the scripted upstream, so every round is real HTTP. What is
asserted is what a client sees: one answer (streamed or not) that used the tools, no trace of the router's
own calls in the chunks, one finish, usage summed over the rounds, and the rounds in
`x-llm-router-tool-rounds`; and what the upstream and the tool server saw: the whole conversation, each
call linked to the request in the invocation log.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest

from tests.e2e.upstreams import OpenRouterDialect
from tests.support.openapi import assert_valid
from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.tools.servers import ToolServer
    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ADMIN = "admin-e2e-agents-0123456789"
WEATHER = "What is the weather in 'Oslo'?"


def config(tool_server: ToolServer) -> str:
    weather = 'parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }'
    lookup = (
        'parameters = { type = "object", properties = { location = { type = "string" }, unit = { type = "string" } },'
        ' required = ["location"] }'
    )
    return f"""
admin_key = "{ADMIN}"

[toolsets.weather]
kind = "http"
description = "Weather, from an n8n webhook."

[[toolsets.weather.tools]]
name = "current"
description = "The weather now in a city."
url = "{tool_server.url("/weather")}"
{weather}

[[toolsets.weather.tools]]
name = "lookup"
description = "The weather at a place."
url = "{tool_server.url("/weather")}"
{lookup}

[[toolsets.weather.tools]]
name = "slow"
description = "Takes its time."
url = "{tool_server.url("/slow")}"
{weather}

[[toolsets.weather.tools]]
name = "broken"
description = "Always fails."
url = "{tool_server.url("/fail")}"
{weather}

[models.shaky]
targets = ["openrouter/vendor/server-error", "mock/tool"]

[agents.forecaster]
model = "mock/tool"
tools = ["weather_current"]
instructions = "You answer questions about the weather."
describe_toolsets = true

[agents.busy]
model = "mock/parallel"
tools = ["weather_current", "weather_broken"]

[agents.patient]
model = "mock/tool"
tools = ["weather_slow"]
tool_timeout = 1

[agents.looper]
model = "openrouter/vendor/always-tool"
tools = ["weather_lookup"]
max_rounds = 2

[agents.corrector]
model = "openrouter/vendor/correcting"
tools = ["weather_lookup"]

[models.guarded]
targets = ["openrouter/vendor/correcting"]
tool_call_guard = "fallback"

[agents.guarded-corrector]
model = "guarded"
tools = ["weather_lookup"]

[agents.mixed]
model = "openrouter/vendor/parallel"
tools = ["weather_lookup"]

[agents.resilient]
model = "shaky"
tools = ["weather_current"]
"""


@pytest.fixture(scope="module")
def agents_router(
    upstream: Upstream, tool_server: ToolServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("agents")
    path = directory / "router.toml"
    path.write_text(config(tool_server) + f'\n[tools]\ndatabase = "{directory / "tools.sqlite3"}"\n', "utf-8")
    env = {
        "OPENROUTER_API_KEY": OpenRouterDialect.key,
        "OPENROUTER_BASE_URL": upstream.base_url("openrouter"),
    }
    yield from run_router(directory, env, ("--config", str(path)))


@pytest.fixture
def sdk(agents_router: RouterProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=agents_router.base_url, api_key="unused", max_retries=0) as client:
        yield client


def invocations(router: RouterProcess, request_id: str) -> list[dict[str, Any]]:
    listing = httpx.get(f"{router.base_url}/tools/invocations", params={"limit": 100}, timeout=10).json()["data"]
    return [entry for entry in listing if entry.get("request_id") == request_id]


def ask(router: RouterProcess, agent: str, content: str = WEATHER, **fields: Any) -> httpx.Response:
    body = {"model": agent, "messages": [{"role": "user", "content": content}], **fields}
    return httpx.post(f"{router.base_url}/chat/completions", json=body, timeout=30)


def test_an_agent_answers_with_what_its_tool_said(agents_router: RouterProcess) -> None:
    response = ask(agents_router, "forecaster")

    assert response.status_code == 200, response.text
    completion = response.json()
    assert_valid(completion, "CreateChatCompletionResponse")
    message = completion["choices"][0]["message"]
    assert "tool_calls" not in message
    assert '"city": "Oslo"' in message["content"]
    assert '"temperature": 21' in message["content"]
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert response.headers["x-llm-router-tool-rounds"] == "1"
    calls = invocations(agents_router, response.headers["x-request-id"])
    assert [(call["tool"], call["outcome"]) for call in calls] == [("weather_current", "success")]


def test_usage_is_the_sum_of_the_rounds(agents_router: RouterProcess) -> None:
    plain = httpx.post(
        f"{agents_router.base_url}/chat/completions",
        json={"model": "mock/text", "messages": [{"role": "user", "content": WEATHER}]},
        timeout=10,
    ).json()
    usage = ask(agents_router, "forecaster").json()["usage"]

    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # Two rounds: each counts at least the conversation's prompt.
    assert usage["prompt_tokens"] > 2 * plain["usage"]["prompt_tokens"]


def test_a_streamed_agent_answer_is_one_coherent_stream(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="forecaster",
            messages=[{"role": "user", "content": WEATHER}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    for chunk in chunks:
        assert_valid(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
    assert {chunk.id for chunk in chunks} == {chunks[0].id}
    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    assert not [delta for delta in deltas if delta.tool_calls]
    assert [delta.role for delta in deltas if delta.role] == ["assistant"]
    finishes = [choice.finish_reason for chunk in chunks for choice in chunk.choices if choice.finish_reason]
    assert finishes == ["stop"]
    text = "".join(delta.content or "" for delta in deltas)
    assert '"temperature": 21' in text
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert [chunk for chunk in chunks if chunk.usage is not None] == [chunks[-1]]


def test_parallel_calls_run_and_a_failing_tool_is_reported_to_the_model(agents_router: RouterProcess) -> None:
    response = ask(agents_router, "busy")

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-router-tool-rounds"] == "1"
    outcomes = {call["tool"]: call["outcome"] for call in invocations(agents_router, response.headers["x-request-id"])}
    assert outcomes == {"weather_current": "success", "weather_broken": "tool_error"}


def test_a_slow_tool_times_out_into_a_result_the_model_reads(agents_router: RouterProcess) -> None:
    response = ask(agents_router, "patient")

    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert "Error: The call failed" in content
    assert response.headers["x-llm-router-tool-rounds"] == "1"


def test_invalid_arguments_come_back_to_the_model_which_corrects_them(
    agents_router: RouterProcess, upstream: Upstream
) -> None:
    marker = "Correct yourself, please."
    response = ask(agents_router, "corrector", marker)

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-router-tool-rounds"] == "2"
    rounds = [received.body for received in upstream.received if received.marker == marker]
    assert len(rounds) == 3
    first_result = rounds[1]["messages"][-1]
    assert first_result["role"] == "tool"
    assert first_result["content"].startswith("Error: The arguments are not valid JSON")
    assert json.loads(rounds[2]["messages"][-1]["content"]) == {"city": None, "temperature": 21}
    assert "The tool said" in response.json()["choices"][0]["message"]["content"]


def test_the_guard_of_the_agents_alias_leaves_the_agents_own_calls_to_the_loop(
    agents_router: RouterProcess, upstream: Upstream
) -> None:
    marker = "Correct yourself behind a guard."
    response = ask(agents_router, "guarded-corrector", marker)

    # The guard would have refused the bad call (and with nothing to fall back to, failed the request).
    assert response.status_code == 200, response.text
    assert response.headers["x-llm-router-tool-rounds"] == "2"


def test_max_rounds_stops_the_loop_and_says_so(agents_router: RouterProcess, upstream: Upstream) -> None:
    marker = "Loop forever."
    response = ask(agents_router, "looper", marker)

    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert "limit" in choice["message"]["content"]
    assert "weather_lookup" in choice["message"]["content"]
    assert response.headers["x-llm-router-tool-rounds"] == "2"
    assert len([received for received in upstream.received if received.marker == marker]) == 3


def test_a_round_falls_back_between_targets(agents_router: RouterProcess) -> None:
    response = ask(agents_router, "resilient")

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-router-target"] == "mock/tool"
    assert '"temperature": 21' in response.json()["choices"][0]["message"]["content"]


def test_client_tools_mixed_in_come_back_and_the_model_later_sees_the_whole_turn(
    agents_router: RouterProcess, upstream: Upstream
) -> None:
    marker = "Book a table and check the weather."
    client_tool = {
        "type": "function",
        "function": {"name": "book_table", "parameters": {"type": "object", "properties": {}}},
    }
    messages: list[dict[str, Any]] = [{"role": "user", "content": marker}]
    first = ask(agents_router, "mixed", marker, tools=[client_tool])

    assert first.status_code == 200, first.text
    answer = first.json()["choices"][0]
    assert answer["finish_reason"] == "tool_calls"
    (call,) = answer["message"]["tool_calls"]  # only the client's own tool
    assert call["function"]["name"] == "book_table"
    messages += [answer["message"], {"role": "tool", "tool_call_id": call["id"], "content": "Booked for 8."}]
    second = httpx.post(
        f"{agents_router.base_url}/chat/completions",
        json={"model": "mixed", "messages": messages, "tools": [client_tool]},
        timeout=30,
    )

    assert second.status_code == 200, second.text
    sent = [received.body for received in upstream.received if received.marker == marker][-1]["messages"]
    roles = [message["role"] for message in sent]
    assert roles == ["user", "assistant", "tool", "tool"]
    assert {tool_call["function"]["name"] for tool_call in sent[1]["tool_calls"]} == {"book_table", "weather_lookup"}
    assert {message["tool_call_id"] for message in sent[2:]} == {tool_call["id"] for tool_call in sent[1]["tool_calls"]}


def test_agents_are_listed_as_models(sdk: openai.OpenAI) -> None:
    names = {model.id for model in sdk.models.list()}

    assert {"forecaster", "busy", "looper", "resilient"} <= names


def test_langchain_agents_see_an_ordinary_chat_model(agents_router: RouterProcess) -> None:
    from langchain_llm_router import ChatLLMRouter
    from langchain_openai import ChatOpenAI

    for model in (
        ChatOpenAI(base_url=agents_router.base_url, api_key="unused", model="forecaster"),
        ChatLLMRouter(base_url=agents_router.base_url, model="forecaster"),
    ):
        reply = model.invoke(WEATHER)
        assert '"temperature": 21' in str(reply.content)
        streamed = "".join(str(chunk.content) for chunk in model.stream(WEATHER))
        assert '"temperature": 21' in streamed
