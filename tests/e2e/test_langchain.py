"""LangChain agents through the router: `ChatOpenAI` (what n8n's OpenAI Chat Model node runs) and the
project's own `ChatLLMRouter`, against the mock provider and the scripted OpenRouter and DeepSeek dialects."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool
from langchain_llm_router import ChatLLMRouter
from langchain_openai import ChatOpenAI
from llm_router_agent_loop import arun_agent_loop, run_agent_loop

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

MODELS = ["mock/tool", "openrouter/tool", "deepseek/tool", "deepseek/reasoning"]


@tool
def get_weather(location: str) -> str:
    """Current weather at a location."""
    return f"It is sunny in {location}."


def chat_model(kind: str, router: RouterProcess, model: str) -> BaseChatModel:
    if kind == "ChatOpenAI":
        return ChatOpenAI(base_url=router.base_url, api_key="unused", model=model, max_retries=0)
    return ChatLLMRouter(base_url=router.base_url, api_key="unused", model=model, max_retries=0)


def assert_one_tool_round_trip(messages: list[BaseMessage], model: str) -> None:
    call_turn, tool_result, answer = messages[1:]
    assert isinstance(call_turn, AIMessage)
    (call,) = call_turn.tool_calls
    assert call["name"] == "get_weather"
    assert call["id"]
    assert isinstance(tool_result, ToolMessage)
    assert tool_result.tool_call_id == call["id"]
    assert isinstance(answer, AIMessage)
    assert "sunny" in str(answer.content)
    expected = {"location": "Lyon"} if model.startswith("mock/") else {"location": "Paris, France", "unit": "celsius"}
    assert call["args"] == expected


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("kind", ["ChatOpenAI", "ChatLLMRouter"])
def test_agent_loop(router: RouterProcess, kind: str, model: str, stream: bool) -> None:
    messages = run_agent_loop(chat_model(kind, router, model), [get_weather], "Weather in 'Lyon'?", stream=stream)

    assert_one_tool_round_trip(messages, model)


@pytest.mark.parametrize("stream", [False, True], ids=["ainvoke", "astream"])
@pytest.mark.parametrize("model", MODELS)
async def test_async_agent_loop(router: RouterProcess, model: str, stream: bool) -> None:
    llm = chat_model("ChatLLMRouter", router, model)

    messages = await arun_agent_loop(llm, [get_weather], "Weather in 'Lyon'?", stream=stream)

    assert_one_tool_round_trip(messages, model)


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_reasoning_content_goes_back_to_deepseek(router: RouterProcess, upstream: Upstream, stream: bool) -> None:
    llm = chat_model("ChatLLMRouter", router, "deepseek/reasoning")

    messages = run_agent_loop(llm, [get_weather], "Weather in 'Lyon'?", stream=stream)

    reasoning = messages[1].additional_kwargs["reasoning_content"]
    assert reasoning
    # DeepSeek's thinking mode rejects a follow-up after tool calls that lacks it.
    follow_up = upstream.last("deepseek").body["messages"]
    assert follow_up[1]["role"] == "assistant"
    assert follow_up[1]["reasoning_content"] == reasoning
