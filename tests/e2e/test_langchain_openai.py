"""LangChain's ChatOpenAI (what n8n's OpenAI Chat Model node runs) in an agent loop through the router."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e


@tool
def get_weather(location: str) -> str:
    """Current weather at a location."""
    return f"It is sunny in {location}."


def run_agent(llm: ChatOpenAI, question: str, *, stream: bool) -> list[BaseMessage]:
    """The loop an agent runs: ask, execute the tool calls, send the results back, get the answer."""
    model = llm.bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(3):
        if stream:
            reply: AIMessageChunk | None = None
            for chunk in model.stream(messages):
                reply = chunk if reply is None else reply + chunk
            assert reply is not None
            message: AIMessage = AIMessage(
                content=reply.content, tool_calls=reply.tool_calls, response_metadata=reply.response_metadata
            )
        else:
            message = model.invoke(messages)  # type: ignore[assignment]
        messages.append(message)
        if not message.tool_calls:
            return messages
        for call in message.tool_calls:
            result = get_weather.invoke(call)
            assert isinstance(result, ToolMessage)
            messages.append(result)
    raise AssertionError("the agent did not finish in three turns")


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("model", ["mock/tool", "openrouter/tool", "deepseek/tool"])
def test_agent_loop(router: RouterProcess, model: str, stream: bool) -> None:
    llm = ChatOpenAI(base_url=router.base_url, api_key="unused", model=model, max_retries=0)  # type: ignore[arg-type]

    messages = run_agent(llm, "What is the weather in 'Lyon'?", stream=stream)

    call_turn, tool_result, answer = messages[1:]
    assert isinstance(call_turn, AIMessage)
    (call,) = call_turn.tool_calls
    assert call["name"] == "get_weather"
    assert call["id"]
    assert isinstance(tool_result, ToolMessage)
    assert tool_result.tool_call_id == call["id"]
    assert isinstance(answer, AIMessage)
    assert "sunny" in str(answer.content)
    if model == "mock/tool":
        assert call["args"] == {"location": "Lyon"}
    else:
        assert call["args"] == {"location": "Paris, France", "unit": "celsius"}
