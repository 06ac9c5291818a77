"""One request to an agent: rounds of a routed model turn and the registry tool calls it asks for.

Each round is one routed model call (so routing, fallback and the tool-call guard apply to every round),
streamed when the client streams. Its events go on to the client as they come, except the agent's own
tool calls: those are held back, validated and run (in parallel, up to the agent's limit), their results
appended to the conversation, and the next round begins. A call with invalid arguments, or to a tool that
fails, becomes a tool result that says what went wrong, so the model can correct itself. The answer ends
when a round calls none of the agent's tools; or, when `max_rounds` rounds of tool calls have run and the
model still asks for more, with those calls not run, a sentence saying so, and `finish_reason` `length`.

What the client sees is one answer: text of every round in order (rounds' texts separated by a blank
line), no trace of the calls the router ran in the stream of chunks, one finish, usage summed over every
round, and, while tools run, keep-alive events so no proxy times the stream out. A round that calls both the
agent's tools and the client's own (tools the client sent) runs the agent's and hands the client's back as
ordinary `tool_calls`; the turn's server side is kept (`app.agents.memory`) and spliced back into the
conversation when the client returns with its results. One deadline covers every round and every call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from app.access.gate import charge_tokens, estimate_tokens
from app.context import current
from app.pipeline.answer import AnswerBuilder
from app.pipeline.events import (
    ChoiceFinished,
    KeepAlive,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    ToolExecuted,
    ToolFailure,
)
from app.routing import Overrides
from app.tools.results import text_of
from providers.errors import InvalidRequest, InvalidToolArguments, RouterError, UpstreamTimeout
from providers.request import ChatRequest
from providers.schema import (
    UNSET,
    AssistantMessage,
    FunctionCall,
    FunctionTool,
    FunctionToolCall,
    Message,
    SystemMessage,
    Tool,
    ToolCall,
    ToolMessage,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

    from app.access.limits import RateLimiter
    from app.agents.directory import Agent
    from app.agents.memory import TurnMemory
    from app.pipeline.events import AnswerEvent
    from app.pipeline.turns import Turn
    from app.routing import RouteTarget
    from app.tools.registry import ToolRegistry
    from app.tools.toolsets import Tool as RegistryTool
    from providers.schema import ChatCompletion

__all__ = ["AgentRun"]

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 5.0

_encoder = msgspec.json.Encoder()
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_messages = msgspec.json.Decoder(list[Message])
_tool = msgspec.json.Decoder(Tool)
_arguments = msgspec.json.Decoder()
_INVALID_PARAMS = -32602  # JSON-RPC's "invalid params", as MCP reports a call its tool cannot take


@dataclass(slots=True)
class _Call:
    """A tool call of the round in progress, and what the client is shown of it."""

    index: int
    id: str
    name: str | None
    arguments: list[str] = field(default_factory=list)
    visible: int | None = None  # its index among the calls the client sees
    held: list[AnswerEvent] = field(default_factory=list)  # events kept until its name says whose it is
    done: ToolCallDone | None = None


class _Round:
    """One round's events, filtered: the agent's own calls are kept from the client."""

    def __init__(self, agent_tools: Mapping[str, RegistryTool], *, after_text: bool) -> None:
        self.agent_tools = agent_tools
        self.answer = AnswerBuilder()
        self.finish_reason = "stop"
        self.said_something = False
        self._separate = after_text
        self._calls: dict[int, _Call] = {}
        self._visible = 0

    @property
    def agent_calls(self) -> list[ToolCallDone]:
        return [call.done for call in self._calls.values() if call.done is not None and call.visible is None]

    @property
    def client_calls(self) -> list[ToolCallDone]:
        return [call.done for call in self._calls.values() if call.done is not None and call.visible is not None]

    def see(self, batch: Sequence[AnswerEvent]) -> list[AnswerEvent]:
        """The events of `batch` the client may see."""
        self.answer.feed(batch)
        shown: list[AnswerEvent] = []
        for event in batch:
            if getattr(event, "choice", 0) != 0:
                continue  # an agent answers with one choice
            if isinstance(event, TextDelta):
                if event.text:
                    if self._separate:
                        shown.append(TextDelta(0, "\n\n"))
                        self._separate = False
                    self.said_something = True
                shown.append(event)
            elif isinstance(event, ToolCallStarted | ToolCallDelta | ToolCallDone):
                shown += self._call_event(event)
            elif isinstance(event, ChoiceFinished):
                self.finish_reason = event.finish_reason  # sent once the whole answer is over
            else:
                shown.append(event)
        return shown

    def _call_event(self, event: ToolCallStarted | ToolCallDelta | ToolCallDone) -> list[AnswerEvent]:
        call = self._calls.get(event.index)
        if call is None:
            call = self._calls[event.index] = _Call(event.index, getattr(event, "id", ""), None)
        if event.name and call.name is None:
            call.name = event.name
        if isinstance(event, ToolCallDone):
            call.done = event
            call.name = call.name or event.name
        decided = call.name is not None or isinstance(event, ToolCallDone)
        if not decided:
            call.held.append(event)
            return []
        if call.name in self.agent_tools:
            return []
        if call.visible is None:
            call.visible = self._visible
            self._visible += 1
            held, call.held = [*call.held, event], []
            return [_renumbered(held_event, call.visible) for held_event in held]
        return [_renumbered(event, call.visible)]

    def assistant_message(self) -> AssistantMessage:
        """What the model said this round, as the conversation's next message."""
        completion = self.answer.completion()
        message = completion.choices[0].message if completion.choices else None
        calls: list[ToolCall] = [
            FunctionToolCall(id=call.done.id, function=FunctionCall(name=call.done.name, arguments=call.done.arguments))
            for call in self._calls.values()
            if call.done is not None
        ]
        return AssistantMessage(
            content=message.content if message is not None and message.content else None,
            tool_calls=calls or UNSET,
            reasoning_content=message.reasoning_content if message is not None else UNSET,
            reasoning_details=message.reasoning_details if message is not None else UNSET,
        )


def _renumbered(event: AnswerEvent, index: int) -> AnswerEvent:
    return msgspec.structs.replace(event, index=index)


@dataclass(frozen=True, slots=True)
class _Executed:
    event: ToolExecuted
    message: ToolMessage


class AgentRun:
    """An agent's answer to one request, as a stream of answer events (`__aiter__`) from its first round on.

    `open()` routes the first round (for a streamed answer, until its first chunk), so that a request that
    cannot even start is a plain HTTP error. `target` and `attempts` describe the round that served last.
    """

    def __init__(
        self,
        *,
        agent: Agent,
        request: ChatRequest,
        overrides: Overrides | None,
        timeout: float,
        registry: ToolRegistry,
        memory: TurnMemory,
        limiter: RateLimiter,
        open_turn: Callable[[ChatRequest, Overrides], Awaitable[Turn]],
    ) -> None:
        self.agent = agent
        self.limiter = limiter
        self.registry = registry
        self.memory = memory
        self.tool_rounds = 0
        self.attempts = 0
        self._target: RouteTarget | None = None
        self._client_request = request
        self._max_attempts = overrides.max_attempts if overrides else None
        self._deadline = time.monotonic() + (overrides.timeout if overrides and overrides.timeout else timeout)
        self._open_turn = open_turn
        self._answer = AnswerBuilder()
        self._turn: Turn | None = None
        self._tools: dict[str, RegistryTool] = {}
        self._request: ChatRequest | None = None

    # ----------------------------------------------------------------------------------------- the rounds

    @property
    def target(self) -> RouteTarget:
        assert self._target is not None, "open() first"
        return self._target

    async def open(self) -> None:
        """Build the first round's request (instructions, the agent's tools, turns kept for the client's
        calls) and route it."""
        context = current()
        tools = self.agent.tools(self.registry, context.client)
        self._tools = {tool.name: tool for tool in tools}
        self._request = await self._first_request(tools)
        await self._start(self._request)

    async def __aiter__(self) -> AsyncIterator[list[AnswerEvent]]:
        assert self._turn is not None, "open() first"
        assert self._request is not None
        request, turn, said_something = self._request, self._turn, False
        while True:
            round_ = _Round(self._tools, after_text=said_something)
            async for batch in turn:
                if shown := round_.see(batch):
                    self._answer.feed(shown)
                    yield shown
            said_something = said_something or round_.said_something
            calls = round_.agent_calls
            if not calls:
                yield self._finish(round_.finish_reason)
                return
            if self.tool_rounds >= self.agent.settings.max_rounds:
                yield self._finish("length", _limit_reached(self.agent, calls))
                return
            executed: list[_Executed] = []
            async for keep_alive in self._execute(calls, executed):
                yield keep_alive
            self.tool_rounds += 1
            current().tool_rounds = self.tool_rounds
            shown = [done.event for done in executed]
            self._answer.feed(shown)
            yield shown
            turn_messages: list[Message] = [round_.assistant_message(), *(done.message for done in executed)]
            if round_.client_calls:
                await self._keep_for_client(round_.client_calls, turn_messages)
                yield self._finish("tool_calls")
                return
            request = _continued(request, turn_messages)
            await charge_tokens(self.limiter, estimate_tokens(request))
            turn = await self._start(request)

    async def aclose(self) -> None:
        if self._turn is not None:
            await self._turn.aclose()

    def completion(self) -> ChatCompletion:
        """The answer so far, as the one completion a non-streamed request gets."""
        return self._answer.completion()

    async def _start(self, request: ChatRequest) -> Turn:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout(
                f"The agent '{self.agent.name}' ran out of time before its next round.",
                provider=self.agent.name,
                code="deadline_exceeded",
            )
        overrides = Overrides(
            timeout=remaining, max_attempts=self._max_attempts, unguarded_tools=frozenset(self._tools)
        )
        turn = await self._open_turn(request, overrides)
        self._turn, self._target = turn, turn.target
        self.attempts += turn.attempts
        return turn

    def _finish(self, reason: str, text: str = "") -> list[AnswerEvent]:
        events: list[AnswerEvent] = [TextDelta(0, text)] if text else []
        events.append(ChoiceFinished(0, reason))
        self._answer.feed(events)
        return events

    # ------------------------------------------------------------------------------------------ tool calls

    async def _execute(self, calls: list[ToolCallDone], executed: list[_Executed]) -> AsyncIterator[list[AnswerEvent]]:
        """Run a round's calls, at most `parallel_tool_calls` at once, keeping the stream alive meanwhile;
        their results land in `executed`, in call order."""
        limit = asyncio.Semaphore(self.agent.settings.parallel_tool_calls)
        request_id = current().request_id

        async def run(call: ToolCallDone) -> _Executed:
            async with limit:
                return await self._call(call, request_id)

        tasks = [asyncio.create_task(run(call), name=f"tool {call.name}") for call in calls]
        try:
            pending: set[asyncio.Task[_Executed]] = set(tasks)
            while pending:
                _, pending = await asyncio.wait(pending, timeout=KEEP_ALIVE_SECONDS)
                if pending:
                    yield [KeepAlive()]
            executed += [task.result() for task in tasks]
        finally:
            for task in tasks:
                task.cancel()

    async def _call(self, call: ToolCallDone, request_id: str) -> _Executed:
        tool = self._tools[call.name]
        failure: ToolFailure | None = None
        try:
            arguments: Any = _arguments.decode(call.arguments or "{}")
        except (msgspec.DecodeError, RecursionError):
            output = f"The arguments are not valid JSON: {call.arguments[:200]!r}. Call the tool again."
            failure = ToolFailure("protocol", output, _INVALID_PARAMS)
        else:
            try:
                result = await self.registry.invoke(
                    tool.name,
                    arguments,
                    request_id=request_id,
                    deadline=self._tool_deadline(),
                    visible_to=current().client,
                    source="agent",
                )
            except InvalidToolArguments as exc:
                output = f"The call was refused: {exc.message}. Call the tool again with valid arguments."
                failure = ToolFailure("protocol", output, _INVALID_PARAMS)
            except RouterError as exc:
                output = f"The call failed: {exc.message}"
                failure = ToolFailure("http", output, exc.http_status)
            else:
                output = text_of(result.content)
                if result.truncated:
                    output += "\n[The output was cut at the size limit.]"
                if result.is_error:
                    failure = ToolFailure("tool", output or "The tool reported an error.")
        event = ToolExecuted(
            call_id=call.id,
            server=tool.toolset,
            name=tool.server_name,
            arguments=call.arguments,
            output=output,
            failure=failure,
        )
        content = f"Error: {output}" if failure is not None else output
        return _Executed(event, ToolMessage(content=content, tool_call_id=call.id))

    def _tool_deadline(self) -> float:
        timeout = self.agent.settings.tool_timeout
        return self._deadline if timeout is None else min(self._deadline, time.monotonic() + timeout)

    # ------------------------------------------------------------------------------------ the conversation

    async def _first_request(self, tools: list[RegistryTool]) -> ChatRequest:
        request = self._client_request
        params = request.params
        if params.n not in (None, UNSET, 1):
            raise InvalidRequest("An agent answers with one choice: leave `n` unset.", param="n")
        client_tools = list(params.tools or ())
        for position, tool in enumerate(client_tools):
            if isinstance(tool, FunctionTool) and tool.function.name in self._tools:
                raise InvalidRequest(
                    f"The tool '{tool.function.name}' is one of the agent's own: give yours another name.",
                    param=f"tools[{position}].function.name",
                )
        messages, raw = await self._restored(list(params.messages), _raw_list.decode(request.fields["messages"]))
        instructions = self.agent.instructions(self.registry, tools)
        if instructions:
            system = SystemMessage(content=instructions)
            messages, raw = [system, *messages], [msgspec.Raw(_encoder.encode(system)), *raw]
        agent_tools = [_tool.decode(_encoder.encode(tool.definition())) for tool in tools]
        all_tools = [*client_tools, *agent_tools]
        fields = dict(request.fields)
        fields["messages"] = msgspec.Raw(_encoder.encode(raw))
        if all_tools:
            client_raw = _raw_list.decode(fields["tools"]) if client_tools else []
            agent_raw = [msgspec.Raw(_encoder.encode(tool)) for tool in agent_tools]
            fields["tools"] = msgspec.Raw(_encoder.encode([*client_raw, *agent_raw]))
        fields["model"] = msgspec.Raw(_encoder.encode(self.agent.settings.model))
        params = msgspec.structs.replace(
            params, model=self.agent.settings.model, messages=messages, tools=all_tools or UNSET
        )
        return ChatRequest(params, fields)

    async def _restored(
        self, messages: list[Message], raw: list[msgspec.Raw]
    ) -> tuple[list[Message], list[msgspec.Raw]]:
        """The conversation with the server side of earlier turns spliced back in, where the client returns
        with results for calls that came out of a round that also ran the agent's tools."""
        restored: tuple[list[Message], list[msgspec.Raw]] = ([], [])
        for message, item in zip(messages, raw, strict=True):
            kept = None
            if isinstance(message, AssistantMessage) and message.tool_calls:
                kept = await self.memory.recall(message.tool_calls[0].id)
            if kept is None:
                restored[0].append(message)
                restored[1].append(item)
                continue
            turn = _messages.decode(kept)
            restored[0].extend(turn)
            restored[1].extend(msgspec.Raw(_encoder.encode(each)) for each in turn)
        return restored

    async def _keep_for_client(self, client_calls: list[ToolCallDone], turn: list[Message]) -> None:
        try:
            await self.memory.remember([call.id for call in client_calls], _encoder.encode(turn))
        except Exception:
            log.exception("could not keep the agent's turn for the client's tool results")


def _continued(request: ChatRequest, messages: list[Message]) -> ChatRequest:
    """The next round's request: the conversation so far plus `messages`, tool choice left to the model
    (a `required` or named choice would make every round call a tool)."""
    fields = dict(request.fields)
    raw = _raw_list.decode(fields["messages"])
    fields["messages"] = msgspec.Raw(_encoder.encode([*raw, *(msgspec.Raw(_encoder.encode(m)) for m in messages)]))
    fields.pop("tool_choice", None)
    params = msgspec.structs.replace(request.params, messages=[*request.params.messages, *messages], tool_choice=UNSET)
    return ChatRequest(params, fields)


def _limit_reached(agent: Agent, calls: list[ToolCallDone]) -> str:
    wanted = ", ".join(dict.fromkeys(call.name for call in calls))
    return (
        f"\n\n[The agent stopped after {agent.settings.max_rounds} rounds of tool calls, its limit; "
        f"it still asked for: {wanted}. Those calls were not run.]"
    )
