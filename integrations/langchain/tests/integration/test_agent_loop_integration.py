"""End to end: LangChain tools, the model calls them, results go back, it answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_llm_router import ChatLLMRouter

from llm_router_agent_loop import arun_agent_loop, run_agent_loop

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from llm_router_process import RunningRouter

pytestmark = pytest.mark.integration

STREAM = pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


@tool
def get_time(city: str) -> str:
    """Get the local time in a city."""
    return f"It is noon in {city}."


@tool
def get_fortune() -> str:
    """Read today's fortune."""
    return "You will write good tests."


def check_single_call_conversation(messages: list[BaseMessage]) -> None:
    human, call_turn, result, answer = messages
    assert isinstance(human, HumanMessage)
    assert isinstance(call_turn, AIMessage)
    [call] = call_turn.tool_calls
    assert call["name"] == "get_weather"
    # The mock takes string arguments from the quoted text of the question.
    assert call["args"] == {"city": "Zürich"}
    assert call["id"]
    assert isinstance(result, ToolMessage)
    assert result.tool_call_id == call["id"]
    assert isinstance(answer, AIMessage)
    assert not answer.tool_calls
    assert "It is sunny in Zürich." in answer.text
    assert answer.usage_metadata is not None
    assert answer.response_metadata["finish_reason"] == "stop"


@STREAM
def test_agent_loop(router: RunningRouter, stream: bool) -> None:
    model = ChatLLMRouter(model="mock/tool", base_url=router.base_url)

    messages = run_agent_loop(
        model, [get_weather], "What is the weather in 'Zürich'?", stream=stream
    )

    check_single_call_conversation(messages)
    assert messages[1].response_metadata["finish_reason"] == "tool_calls"


@STREAM
async def test_agent_loop_async(router: RunningRouter, stream: bool) -> None:
    model = ChatLLMRouter(model="mock/tool", base_url=router.base_url)

    messages = await arun_agent_loop(
        model, [get_weather], "What is the weather in 'Zürich'?", stream=stream
    )

    check_single_call_conversation(messages)


@STREAM
def test_agent_loop_with_parallel_calls(router: RunningRouter, stream: bool) -> None:
    model = ChatLLMRouter(model="mock/parallel", base_url=router.base_url)

    messages = run_agent_loop(
        model, [get_weather, get_time], "Weather and time in 'Oslo'?", stream=stream
    )

    call_turn = messages[1]
    assert isinstance(call_turn, AIMessage)
    assert [c["name"] for c in call_turn.tool_calls] == ["get_weather", "get_time"]
    assert len({c["id"] for c in call_turn.tool_calls}) == 2
    results = [m for m in messages if isinstance(m, ToolMessage)]
    assert [r.content for r in results] == [
        "It is sunny in Oslo.",
        "It is noon in Oslo.",
    ]
    answer = messages[-1]
    assert isinstance(answer, AIMessage)
    assert not answer.tool_calls
    assert answer.text


@STREAM
def test_agent_loop_with_a_tool_without_arguments(
    router: RunningRouter,
    stream: bool,
) -> None:
    model = ChatLLMRouter(model="mock/noargs", base_url=router.base_url)

    messages = run_agent_loop(
        model, [get_fortune], "What is my fortune?", stream=stream
    )

    call_turn = messages[1]
    assert isinstance(call_turn, AIMessage)
    assert call_turn.tool_calls[0]["name"] == "get_fortune"
    assert call_turn.tool_calls[0]["args"] == {}
    assert isinstance(messages[-1], AIMessage)
    assert not messages[-1].tool_calls
