"""The agent loop's running of tools: keep-alives while they run, the parallel limit, cancellation, calls held
for approval and approved ones, and where a kept turn comes back."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from app.agents import loop
from app.agents.directory import Agent
from app.agents.loop import AgentRun
from app.agents.memory import LocalTurnMemory
from app.agents.toolbox import ApprovedCall, Toolbox, ToolUse
from app.pipeline.events import (
    ApprovalRequested,
    ChoiceFinished,
    ChoiceStarted,
    KeepAlive,
    TextDelta,
    ToolCallDone,
    ToolCallStarted,
    ToolExecuted,
    ToolRunning,
    TurnStarted,
)
from app.schemas import SchemaCompiler
from app.settings import AgentSettings
from app.tools.kinds.base import ToolSpec
from app.tools.results import TextContent, ToolResult
from app.tools.toolsets import Tool
from providers.request import ChatRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.pipeline.events import AnswerEvent
    from app.routing import Overrides

REQUEST = ChatRequest.decode(json.dumps({"model": "agent", "messages": [{"role": "user", "content": "Go"}]}).encode())


def tool(name: str) -> Tool:
    spec = ToolSpec(name=name)
    return Tool(f"kit_{name}", name, "kit", spec, SchemaCompiler().compile(spec.parameters), None, 30.0, 1, None, None)


class Registry:
    """The registry's two faces the loop uses: listing tools and invoking them (each call takes `delay`)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.running = 0
        self.most_at_once = 0
        self.cancelled = 0
        self.all_running = asyncio.Event()
        self._tools = [tool("one"), tool("two"), tool("three")]

    def tools(self) -> list[Tool]:
        return self._tools

    def toolsets(self) -> list[Any]:
        return []

    async def invoke(self, name: str, arguments: Any, **_: Any) -> ToolResult:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        if self.running == len(self._tools):
            self.all_running.set()
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1
        return ToolResult(id="inv", tool=name, is_error=False, content=[TextContent(text=f"{name} done")])


class ScriptedTurn:
    """A turn that calls every tool of the kit, or, once tool results are in, says it is done."""

    attempts = 1
    target: Any = None

    def __init__(self, request: ChatRequest) -> None:
        self.request = request

    async def __aiter__(self) -> AsyncIterator[list[AnswerEvent]]:
        events: list[AnswerEvent] = [TurnStarted("chatcmpl-1", 1, "m"), ChoiceStarted(0, "", None)]
        if self.request.params.messages[-1].__class__.__name__ == "ToolMessage":
            events += [TextDelta(0, "All done."), ChoiceFinished(0, "stop")]
        else:
            for index, name in enumerate(("kit_one", "kit_two", "kit_three")):
                events += [ToolCallStarted(0, index, f"call_{index}", name, "{}")]
                events += [ToolCallDone(0, index, f"call_{index}", name, "{}")]
            events.append(ChoiceFinished(0, "tool_calls"))
        yield events

    async def aclose(self) -> None:
        pass


async def open_turn(request: ChatRequest, _: Overrides) -> ScriptedTurn:
    return ScriptedTurn(request)


def run(registry: Registry, **settings: Any) -> AgentRun:
    agent = Agent("agent", AgentSettings(model="mock/tool", tools=["kit_*"], **settings))
    return AgentRun(
        agent=agent,
        request=REQUEST,
        overrides=None,
        timeout=30,
        registry=registry,  # type: ignore[arg-type]
        memory=LocalTurnMemory(),
        limiter=None,  # type: ignore[arg-type]
        open_turn=open_turn,
    )


async def test_the_stream_stays_alive_while_tools_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "KEEP_ALIVE_SECONDS", 0.01)
    agent = run(Registry(delay=0.1))
    await agent.open()

    events = [event async for batch in agent for event in batch]

    assert any(isinstance(event, KeepAlive) for event in events)
    executed = [event for event in events if isinstance(event, ToolExecuted)]
    assert [event.output for event in executed] == ["kit_one done", "kit_two done", "kit_three done"]
    assert [event for event in events if isinstance(event, ChoiceFinished)] == [ChoiceFinished(0, "stop")]
    assert agent.tool_rounds == 1


async def test_calls_run_at_most_parallel_tool_calls_at_once() -> None:
    registry = Registry(delay=0.02)
    agent = run(registry, parallel_tool_calls=2)
    await agent.open()

    _ = [batch async for batch in agent]

    assert registry.most_at_once == 2


async def test_a_client_that_leaves_cancels_the_running_calls() -> None:
    registry = Registry(delay=30)
    agent = run(registry)
    await agent.open()

    async def consume() -> None:
        async for _ in agent:
            pass

    task = asyncio.create_task(consume())
    await registry.all_running.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert registry.cancelled == 3
    assert registry.running == 0


# ------------------------------------------------------------------------------- a request's own toolbox


def toolbox(registry: Registry, *, approval: frozenset[str] = frozenset(), **fields: Any) -> Toolbox:
    uses = {tool.name: ToolUse(tool, "kit", needs_approval=tool.name in approval) for tool in registry.tools()}
    return Toolbox(owner="the model", tools=uses, source="responses", **fields)


def run_box(box: Toolbox, registry: Registry, request: ChatRequest = REQUEST, **kwargs: Any) -> AgentRun:
    return AgentRun(
        agent=box,
        request=request,
        overrides=None,
        timeout=30,
        registry=registry,  # type: ignore[arg-type]
        memory=kwargs.get("memory", LocalTurnMemory()),
        limiter=None,  # type: ignore[arg-type]
        open_turn=kwargs.get("open_turn", open_turn),
    )


async def test_calls_that_need_approval_are_held_and_end_the_answer() -> None:
    registry = Registry(delay=0)
    agent = run_box(toolbox(registry, approval=frozenset({"kit_two"})), registry)
    await agent.open()

    events = [event for batch in [batch async for batch in agent] for event in batch]

    running = [event.name for event in events if isinstance(event, ToolRunning)]
    executed = [event.name for event in events if isinstance(event, ToolExecuted)]
    held = [event for event in events if isinstance(event, ApprovalRequested)]
    assert running == executed == ["one", "three"]
    assert held == [ApprovalRequested(server="kit", name="two", arguments="{}")]
    assert [event for event in events if isinstance(event, ChoiceFinished)] == [ChoiceFinished(0, "stop")]
    assert agent.tool_rounds == 1


async def test_approved_calls_run_before_the_first_round_which_sees_them() -> None:
    registry = Registry(delay=0)
    seen: list[ChatRequest] = []

    async def recording(request: ChatRequest, _: Overrides) -> ScriptedTurn:
        seen.append(request)
        return ScriptedTurn(request)

    box = toolbox(registry, approved=(ApprovedCall("mcpr_1", "kit_two", '{"x": 1}'),))
    agent = run_box(box, registry, open_turn=recording)
    await agent.open()
    batches = [batch async for batch in agent]

    assert batches[0] == [ToolRunning("mcpr_1", "kit", "two", '{"x": 1}', approval_request_id="mcpr_1")]
    assert isinstance(batches[1][0], ToolExecuted)
    assert batches[1][0].approval_request_id == "mcpr_1"
    messages = seen[0].params.messages
    assert [type(message).__name__ for message in messages] == ["UserMessage", "AssistantMessage", "ToolMessage"]
    assert messages[2].tool_call_id == "mcpr_1"  # type: ignore[union-attr]
    assert agent.tool_rounds == 1


def conversation(*messages: dict[str, Any]) -> ChatRequest:
    return ChatRequest.decode(json.dumps({"model": "agent", "messages": list(messages)}).encode())


def call(call_id: str, name: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


async def test_a_kept_turn_comes_back_only_in_place_of_the_clients_view_of_it() -> None:
    registry = Registry(delay=0)
    memory = LocalTurnMemory()
    kept = [
        {"role": "assistant", "content": None, "tool_calls": [call("call_c", "book"), call("call_s", "kit_one")]},
        {"role": "tool", "content": "one done", "tool_call_id": "call_s"},
    ]
    await memory.remember(["call_c"], json.dumps(kept).encode())
    user = {"role": "user", "content": "Go"}
    client_result = {"role": "tool", "content": "booked", "tool_call_id": "call_c"}
    seen: list[ChatRequest] = []

    async def recording(request: ChatRequest, _: Overrides) -> ScriptedTurn:
        seen.append(request)
        return ScriptedTurn(request)

    chat_view = conversation(user, {"role": "assistant", "tool_calls": [call("call_c", "book")]}, client_result)
    whole = conversation(
        user,
        {"role": "assistant", "tool_calls": [call("call_c", "book"), call("mcp_1", "kit_one")]},
        {"role": "tool", "content": "one done", "tool_call_id": "mcp_1"},
        client_result,
    )
    for request in (chat_view, whole):
        await run_box(toolbox(registry), registry, request, memory=memory, open_turn=recording).open()

    spliced, left = (request.params.messages for request in seen)
    assert [getattr(message, "tool_call_id", None) for message in spliced] == [None, None, "call_s", "call_c"]
    assert [getattr(message, "tool_call_id", None) for message in left] == [None, None, "mcp_1", "call_c"]
