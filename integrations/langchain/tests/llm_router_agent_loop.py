"""A minimal tool-calling agent loop, for end-to-end tests against a router.

The loop is the one every LangChain agent runs underneath: the model answers;
while it asks for tools, run them and send the results back. Kept free of any
particular router or model so the same loop can be pointed at the mock
provider or at scripted real-provider upstreams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
    message_chunk_to_message,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

__all__ = ["arun_agent_loop", "run_agent_loop"]


def run_agent_loop(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    question: str,
    *,
    stream: bool,
    max_turns: int = 4,
) -> list[BaseMessage]:
    """Run the loop to a final answer and return the whole conversation.

    With ``stream`` each model turn is streamed and its chunks merged, as a
    streaming UI would; otherwise each turn is a plain ``invoke``.
    """
    bound = model.bind_tools(tools)
    by_name = {tool.name: tool for tool in tools}
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(max_turns):
        reply = _streamed_turn(bound, messages) if stream else bound.invoke(messages)
        assert isinstance(reply, AIMessage)
        messages.append(reply)
        if not reply.tool_calls:
            return messages
        for call in reply.tool_calls:
            result = by_name[call["name"]].invoke(call)
            assert isinstance(result, ToolMessage)
            messages.append(result)
    msg = f"no final answer after {max_turns} turns: {messages}"
    raise AssertionError(msg)


async def arun_agent_loop(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    question: str,
    *,
    stream: bool,
    max_turns: int = 4,
) -> list[BaseMessage]:
    """Asynchronous twin of `run_agent_loop`."""
    bound = model.bind_tools(tools)
    by_name = {tool.name: tool for tool in tools}
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(max_turns):
        if stream:
            reply = await _astreamed_turn(bound, messages)
        else:
            reply = await bound.ainvoke(messages)
        assert isinstance(reply, AIMessage)
        messages.append(reply)
        if not reply.tool_calls:
            return messages
        for call in reply.tool_calls:
            result = await by_name[call["name"]].ainvoke(call)
            assert isinstance(result, ToolMessage)
            messages.append(result)
    msg = f"no final answer after {max_turns} turns: {messages}"
    raise AssertionError(msg)


def _streamed_turn(
    bound: Runnable[LanguageModelInput, AIMessage], messages: list[BaseMessage]
) -> BaseMessage:
    merged: AIMessageChunk | None = None
    for chunk in bound.stream(messages):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk
    assert merged is not None, "the stream yielded nothing"
    return message_chunk_to_message(merged)


async def _astreamed_turn(
    bound: Runnable[LanguageModelInput, AIMessage], messages: list[BaseMessage]
) -> BaseMessage:
    merged: AIMessageChunk | None = None
    async for chunk in bound.astream(messages):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk
    assert merged is not None, "the stream yielded nothing"
    return message_chunk_to_message(merged)
