"""The anthropic provider through the real router, driven by the OpenAI SDK and LangChain's ChatOpenAI: thinking
with tools over several turns, and the failures only Anthropic has (529, a prompt too long).

The scripted Anthropic upstream refuses a tool-use turn that does not start with its signed thinking block, as
Anthropic does, so a conversation that goes through proves the signature made the round trip. What every
dialect must do is the conformance suite's (`test_chat_conformance.py`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import openai
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from llm_router_agent_loop import run_agent_loop

from tests.e2e.chat_requests import WEATHER, function_calls
from tests.e2e.upstreams.anthropic import signature
from tests.support.openapi import assert_valid
from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from openai.types.chat import ChatCompletion

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

FALLBACK_CONFIG = """
[routing]
max_attempts = 2
backoff_initial = 0.05
backoff_max = 0.1

[models.claude-then-deepseek]
targets = ["anthropic/context-too-long", "deepseek/tool"]
[models.overloaded-then-deepseek]
targets = ["anthropic/overloaded", "deepseek/tool"]
"""


@tool
def get_weather(location: str) -> str:
    """Current weather at a location."""
    return f"It is sunny in {location}."


def sent(upstream: Upstream, marker: str) -> list[dict[str, Any]]:
    """The bodies Anthropic received for one conversation (told apart by its first question)."""
    return [
        received.body
        for received in upstream.received
        if received.dialect == "anthropic"
        and received.body.get("messages", [{}])[0].get("content", [{}])[0].get("text") == marker
    ]


# ---------------------------------------------------------------------------------------------- thinking


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_a_three_turn_conversation_with_thinking_and_tools(
    client: openai.OpenAI, upstream: Upstream, stream: bool
) -> None:
    question = f"What is the weather in Paris? ({uuid.uuid4()})"
    messages: list[Any] = [{"role": "user", "content": question}]

    def turn() -> Any:
        """One turn of the client: ask, and keep the assistant message as it came (what clients echo back)."""
        request: dict[str, Any] = {
            "model": "anthropic/reasoning",
            "messages": messages,
            "tools": [WEATHER],
            "reasoning_effort": "high",
        }
        completion: ChatCompletion
        if stream:
            with client.chat.completions.stream(**request) as events:
                for _ in events:
                    pass
                completion = events.get_final_completion()
        else:
            completion = client.chat.completions.create(**request)
        message = completion.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        return message

    first = turn()  # thinking, then a tool call
    details = (first.model_extra or {})["reasoning_details"]
    (call,) = function_calls(first)
    assert details == [
        {
            "type": "reasoning.text",
            "text": first.model_extra["reasoning_content"],
            "signature": signature(first.model_extra["reasoning_content"]),
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18 degrees"})
    second = turn()  # the tool result, then an answer: Anthropic takes it only with the signed thinking first
    assert second.content.strip() == "The tool said: 18 degrees"
    messages.append({"role": "user", "content": "And tomorrow?"})
    third = turn()  # a new question: thinking and a tool call again
    (call,) = function_calls(third)
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "rain"})
    fourth = turn()
    assert fourth.content.strip() == "The tool said: rain"

    bodies = sent(upstream, question)
    assert len(bodies) == 4
    assert all(body["thinking"] == {"type": "enabled", "budget_tokens": 16384} for body in bodies)
    for body, turn_with_tools in ((bodies[1], 1), (bodies[3], 5)):
        thinking, *rest = body["messages"][turn_with_tools]["content"]
        assert thinking["type"] == "thinking"
        assert thinking["signature"] == signature(thinking["thinking"])
        assert rest[-1]["type"] == "tool_use"


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_langchain_drops_the_signature_and_thinking_is_turned_off_for_the_follow_up(
    router: RouterProcess, upstream: Upstream, stream: bool
) -> None:
    # ChatOpenAI keeps neither reasoning_content nor reasoning_details; Anthropic would refuse its follow-up.
    llm = ChatOpenAI(
        base_url=router.base_url, api_key="unused", model="anthropic/reasoning", reasoning_effort="low", max_retries=0
    )
    question = f"Weather in 'Lyon'? ({uuid.uuid4()})"

    messages = run_agent_loop(llm, [get_weather], question, stream=stream)

    answer = messages[-1]
    assert isinstance(answer, AIMessage)
    assert "sunny in Paris" in str(answer.content)
    first, follow_up = sent(upstream, question)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "thinking" not in follow_up
    assert [block["type"] for block in follow_up["messages"][1]["content"]] == ["tool_use"]


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_a_langchain_agent_loop(router: RouterProcess, stream: bool) -> None:
    llm = ChatOpenAI(base_url=router.base_url, api_key="unused", model="anthropic/tool", max_retries=0)

    messages = run_agent_loop(llm, [get_weather], "Weather in 'Lyon'?", stream=stream)

    call_turn = messages[1]
    assert isinstance(call_turn, AIMessage)
    (call,) = call_turn.tool_calls
    assert call["args"] == {"location": "Paris, France", "unit": "celsius"}
    assert str(call["id"]).startswith("toolu_")
    assert "sunny" in str(messages[-1].content)


# ------------------------------------------------------------------------------------------------ errors


@pytest.fixture(scope="module")
def fallback_router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory: Path = tmp_path_factory.mktemp("anthropic-fallback")
    config = directory / "llm-router.toml"
    config.write_text(FALLBACK_CONFIG, encoding="utf-8")
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-fallback",
        "ANTHROPIC_BASE_URL": upstream.base_url("anthropic"),
        "DEEPSEEK_API_KEY": "sk-ds-fallback",
        "DEEPSEEK_BASE_URL": upstream.base_url("deepseek"),
    }
    yield from run_router(directory, env, ("--config", str(config)))


def test_overloaded_is_503_after_the_retries(fallback_router: RouterProcess, upstream: Upstream) -> None:
    question = f"Busy? ({uuid.uuid4()})"
    with (
        openai.OpenAI(base_url=fallback_router.base_url, api_key="unused", max_retries=0) as client,
        pytest.raises(openai.InternalServerError) as raised,
    ):
        client.chat.completions.create(model="anthropic/overloaded", messages=[{"role": "user", "content": question}])

    response = raised.value.response
    assert response.status_code == 503
    body = response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "overloaded_error"
    assert "anthropic answered 529" in body["error"]["message"]
    attempts = [r for r in upstream.received if r.dialect == "anthropic" and r.marker == question]
    assert [r.outcome for r in attempts] == ["529", "529"]  # 529 is worth another try


@pytest.mark.parametrize(
    ("alias", "outcomes"),
    [("overloaded-then-deepseek", ["529", "529"]), ("claude-then-deepseek", ["400"])],
)
def test_an_overloaded_or_too_small_claude_falls_back(
    fallback_router: RouterProcess, upstream: Upstream, alias: str, outcomes: list[str]
) -> None:
    question = f"Weather? ({uuid.uuid4()})"
    with openai.OpenAI(base_url=fallback_router.base_url, api_key="unused", max_retries=0) as client:
        response = client.chat.completions.with_raw_response.create(
            model=alias, messages=[{"role": "user", "content": question}], tools=[WEATHER]
        )

    assert response.headers["x-llm-router-target"] == "deepseek/tool"
    assert function_calls(response.parse().choices[0].message)
    anthropic = [r.outcome for r in upstream.received if r.dialect == "anthropic" and r.marker == question]
    assert anthropic == outcomes  # a prompt too long for Claude is not retried there


def test_a_prompt_too_long_for_the_model_named_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="anthropic/context-too-long", messages=[{"role": "user", "content": "A very long prompt"}]
        )

    body = raised.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "context_length_exceeded"
    assert "prompt is too long" in body["error"]["message"]
