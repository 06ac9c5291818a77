"""One request to an agent: rounds of a routed model turn and the registry tool calls it asks for.

The tools come in a `Toolbox` (`app.agents.toolbox`): a configured agent's, or the ones a Responses
request's `mcp` tools name. Each round is one routed model call (so routing, fallback and the tool-call guard
apply to every round), streamed when the client streams. Its events go on to the client as they come,
except the calls to the toolbox's tools: those are held back, validated and run (in parallel, up to the
toolbox's limit), their results appended to the conversation, and the next round begins. A call with
invalid arguments, or to a tool that fails, becomes a tool result that says what went wrong, so the model
can correct itself. The answer ends when a round calls none of the toolbox's tools; or, when `max_rounds`
rounds of tool calls have run and the model still asks for more, with those calls not run, a sentence
saying so, and `finish_reason` `length`.

What the client sees is one answer: text of every round in order (rounds' texts separated by a blank
line), one finish, usage summed over every round, and, while tools run, keep-alive events so no proxy times
the stream out. The calls the router runs are never tool-call events; they are `ToolRunning` and
`ToolExecuted` events, which chat does not show and the Responses API shows as `mcp_call` items. A round
that calls both the toolbox's tools and the client's own (tools the client sent) runs the toolbox's and hands
the client's back as ordinary `tool_calls`; the turn's server side is kept (`app.agents.memory`) and spliced
back into the conversation when the client returns with its results. A call to a tool that needs the
client's approval is not run: the answer ends with an `ApprovalRequested` event, and the client's next
request brings the approval (`Toolbox.approved`), whose calls run before that request's first round. One
deadline covers every round and every call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from app.access.gate import charge_tokens, estimate_tokens
from app.agents.toolbox import Toolbox
from app.context import current
from app.pipeline.answer import AnswerBuilder
from app.pipeline.events import (
    ApprovalRequested,
    ChoiceFinished,
    KeepAlive,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    ToolExecuted,
    ToolFailure,
    ToolRunning,
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
    from app.agents.toolbox import ToolUse
    from app.pipeline.events import AnswerEvent
    from app.pipeline.turns import Turn
    from app.routing import RouteTarget
    from app.tools.registry import ToolRegistry
    from providers.schema import ChatCompletion

__all__ = ["ROUND_SEPARATOR", "AgentRun"]

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 5.0
ROUND_SEPARATOR = "\n\n"
"""Put between the texts of two rounds, as the first text of the later one (its own `TextDelta`)."""

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
    """One round's events, filtered: calls to the toolbox's tools are kept from the client."""

    def __init__(self, agent_tools: Mapping[str, ToolUse], *, after_text: bool) -> None:
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
                        shown.append(TextDelta(0, ROUND_SEPARATOR))
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
    """An answer that runs a toolbox's tools, as a stream of answer events (`__aiter__`) from its first round on.

    `agent` is a configured agent (its toolbox is made for the client in `open()`) or a request's toolbox.
    `open()` routes the first round (for a streamed answer, until its first chunk), so that a request that
    cannot even start is a plain HTTP error; calls the client approved run before it. `target` and
    `attempts` describe the round that served last.
    """

    def __init__(
        self,
        *,
        agent: Agent | Toolbox,
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
        self._toolbox: Toolbox | None = None
        self._request: ChatRequest | None = None
        self._approved: list[list[AnswerEvent]] = []  # the events of the approved calls, shown first

    # ----------------------------------------------------------------------------------------- the rounds

    @property
    def target(self) -> RouteTarget:
        assert self._target is not None, "open() first"
        return self._target

    @property
    def toolbox(self) -> Toolbox:
        assert self._toolbox is not None, "open() first"
        return self._toolbox

    async def open(self) -> None:
        """Build the first round's request (instructions, the toolbox's tools, turns kept for the client's
        calls), run the calls the client approved, and route the first round."""
        agent = self.agent
        toolbox = agent if isinstance(agent, Toolbox) else Toolbox.of_agent(agent, self.registry, current().client)
        self._toolbox = toolbox
        request = await self._first_request(toolbox)
        if toolbox.approved:
            request = await self._run_approved(toolbox, request)
        self._request = request
        await self._start(request)

    async def __aiter__(self) -> AsyncIterator[list[AnswerEvent]]:
        assert self._turn is not None, "open() first"
        assert self._request is not None
        request, turn, said_something, toolbox = self._request, self._turn, False, self.toolbox
        for batch in self._approved:
            yield batch
        while True:
            round_ = _Round(toolbox.tools, after_text=said_something)
            async for batch in turn:
                if shown := round_.see(batch):
                    self._answer.feed(shown)
                    yield shown
            said_something = said_something or round_.said_something
            calls = round_.agent_calls
            if not calls:
                yield self._finish(round_.finish_reason)
                return
            if self.tool_rounds >= toolbox.max_rounds:
                yield self._finish("length", _limit_reached(toolbox, calls))
                return
            held = [call for call in calls if toolbox.tools[call.name].needs_approval]
            executed: list[_Executed] = []
            if runnable := [call for call in calls if not toolbox.tools[call.name].needs_approval]:
                async for batch in self._execute(runnable, executed):
                    yield batch
                yield self._executed(executed)
            if held:
                # The client approves or declines in its next request, which continues the conversation.
                yield self._held(held)
                yield self._finish("tool_calls" if round_.client_calls else "stop")
                return
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
                f"{_capitalised(self.toolbox.owner)} ran out of time before its next round.",
                provider=self._client_request.params.model,
                code="deadline_exceeded",
            )
        overrides = Overrides(
            timeout=remaining, max_attempts=self._max_attempts, unguarded_tools=frozenset(self.toolbox.tools)
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

    async def _execute(
        self, calls: list[ToolCallDone], executed: list[_Executed], *, approved: bool = False
    ) -> AsyncIterator[list[AnswerEvent]]:
        """Run a round's calls, at most `parallel_tool_calls` at once: says they are running, then keeps the
        stream alive meanwhile; their results land in `executed`, in call order."""
        toolbox = self.toolbox
        limit = asyncio.Semaphore(toolbox.parallel_tool_calls)
        request_id = current().request_id

        async def run(call: ToolCallDone) -> _Executed:
            async with limit:
                return await self._call(call, request_id, approved=approved)

        yield [_running(toolbox.tools[call.name], call, approved=approved) for call in calls]
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

    def _executed(self, executed: list[_Executed]) -> list[AnswerEvent]:
        """A round of calls is over: their results, as one batch."""
        self.tool_rounds += 1
        current().tool_rounds = self.tool_rounds
        shown: list[AnswerEvent] = [done.event for done in executed]
        self._answer.feed(shown)
        return shown

    def _held(self, calls: list[ToolCallDone]) -> list[AnswerEvent]:
        tools = self.toolbox.tools
        return [
            ApprovalRequested(
                server=tools[call.name].label, name=tools[call.name].tool.server_name, arguments=call.arguments
            )
            for call in calls
        ]

    async def _run_approved(self, toolbox: Toolbox, request: ChatRequest) -> ChatRequest:
        """Run the calls the client approved (before the answer starts, so without keep-alives) and continue
        the conversation with them, as if the model had just made them."""
        calls = [
            ToolCallDone(0, index, approval.approval_request_id, approval.name, approval.arguments)
            for index, approval in enumerate(toolbox.approved)
        ]
        executed: list[_Executed] = []
        async for batch in self._execute(calls, executed, approved=True):
            if not isinstance(batch[0], KeepAlive):
                self._approved.append(batch)
        self._approved.append(self._executed(executed))
        tool_calls: list[ToolCall] = [
            FunctionToolCall(id=call.id, function=FunctionCall(name=call.name, arguments=call.arguments))
            for call in calls
        ]
        return _continued(request, [AssistantMessage(tool_calls=tool_calls), *(done.message for done in executed)])

    async def _call(self, call: ToolCallDone, request_id: str, *, approved: bool) -> _Executed:
        toolbox = self.toolbox
        use = toolbox.tools[call.name]
        failure: ToolFailure | None = None
        try:
            arguments: Any = _arguments.decode(call.arguments or "{}")
        except (msgspec.DecodeError, RecursionError):
            output = f"The arguments are not valid JSON: {call.arguments[:200]!r}. Call the tool again."
            failure = ToolFailure("protocol", output, _INVALID_PARAMS)
        else:
            try:
                result = await self.registry.invoke(
                    use.tool.name,
                    arguments,
                    request_id=request_id,
                    deadline=self._tool_deadline(),
                    visible_to=current().client,
                    source=toolbox.source,
                    headers=use.headers,
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
            server=use.label,
            name=use.tool.server_name,
            arguments=call.arguments,
            output=output,
            failure=failure,
            approval_request_id=call.id if approved else None,
        )
        content = f"Error: {output}" if failure is not None else output
        return _Executed(event, ToolMessage(content=content, tool_call_id=call.id))

    def _tool_deadline(self) -> float:
        timeout = self.toolbox.tool_timeout
        return self._deadline if timeout is None else min(self._deadline, time.monotonic() + timeout)

    # ------------------------------------------------------------------------------------ the conversation

    async def _first_request(self, toolbox: Toolbox) -> ChatRequest:
        request = self._client_request
        params = request.params
        if params.n not in (None, UNSET, 1):
            raise InvalidRequest("An agent answers with one choice: leave `n` unset.", param="n")
        client_tools = list(params.tools or ())
        for position, tool in enumerate(client_tools):
            if isinstance(tool, FunctionTool) and tool.function.name in toolbox.tools:
                raise InvalidRequest(
                    f"The tool '{tool.function.name}' is one the router runs for {toolbox.owner}: "
                    "give yours another name.",
                    param=f"tools[{position}].function.name",
                )
        messages, raw = await self._restored(list(params.messages), _raw_list.decode(request.fields["messages"]))
        if toolbox.instructions:
            system = SystemMessage(content=toolbox.instructions)
            messages, raw = [system, *messages], [msgspec.Raw(_encoder.encode(system)), *raw]
        agent_tools = [_tool.decode(_encoder.encode(use.tool.definition())) for use in toolbox.tools.values()]
        all_tools = [*client_tools, *agent_tools]
        fields = dict(request.fields)
        fields["messages"] = msgspec.Raw(_encoder.encode(raw))
        if all_tools:
            client_raw = _raw_list.decode(fields["tools"]) if client_tools else []
            agent_raw = [msgspec.Raw(_encoder.encode(tool)) for tool in agent_tools]
            fields["tools"] = msgspec.Raw(_encoder.encode([*client_raw, *agent_raw]))
        model = params.model
        if toolbox.model is not None:
            model = toolbox.model
            fields["model"] = msgspec.Raw(_encoder.encode(model))
        params = msgspec.structs.replace(params, model=model, messages=messages, tools=all_tools or UNSET)
        return ChatRequest(params, fields)

    async def _restored(
        self, messages: list[Message], raw: list[msgspec.Raw]
    ) -> tuple[list[Message], list[msgspec.Raw]]:
        """The conversation with the server side of earlier turns spliced back in, where the client returns
        with results for calls that came out of a round that also ran the toolbox's tools. A turn comes back
        only in place of the client's view of it: a conversation that already holds the router's calls (a
        Responses conversation, with its `mcp_call` items) is left as it is."""
        restored: tuple[list[Message], list[msgspec.Raw]] = ([], [])
        for message, item in zip(messages, raw, strict=True):
            turn = None
            if isinstance(message, AssistantMessage) and message.tool_calls:
                kept = await self.memory.recall(message.tool_calls[0].id)
                turn = _messages.decode(kept) if kept is not None else None
                if turn is not None and not _client_view_of(message, turn):
                    turn = None
            if turn is None:
                restored[0].append(message)
                restored[1].append(item)
                continue
            restored[0].extend(turn)
            restored[1].extend(msgspec.Raw(_encoder.encode(each)) for each in turn)
        return restored

    async def _keep_for_client(self, client_calls: list[ToolCallDone], turn: list[Message]) -> None:
        try:
            await self.memory.remember([call.id for call in client_calls], _encoder.encode(turn))
        except Exception:
            log.exception("could not keep the server side of a turn for the client's tool results")


def _running(use: ToolUse, call: ToolCallDone, *, approved: bool) -> ToolRunning:
    return ToolRunning(
        call_id=call.id,
        server=use.label,
        name=use.tool.server_name,
        arguments=call.arguments,
        approval_request_id=call.id if approved else None,
    )


def _client_view_of(message: AssistantMessage, turn: list[Message]) -> bool:
    """Whether `message` is what the client saw of the kept `turn`: some of its calls, and no others."""
    kept = turn[0]
    kept_ids = {call.id for call in kept.tool_calls or ()} if isinstance(kept, AssistantMessage) else set()
    return all(call.id in kept_ids for call in message.tool_calls or ())


def _continued(request: ChatRequest, messages: list[Message]) -> ChatRequest:
    """The next round's request: the conversation so far plus `messages`, tool choice left to the model
    (a `required` or named choice would make every round call a tool)."""
    fields = dict(request.fields)
    raw = _raw_list.decode(fields["messages"])
    fields["messages"] = msgspec.Raw(_encoder.encode([*raw, *(msgspec.Raw(_encoder.encode(m)) for m in messages)]))
    fields.pop("tool_choice", None)
    params = msgspec.structs.replace(request.params, messages=[*request.params.messages, *messages], tool_choice=UNSET)
    return ChatRequest(params, fields)


def _limit_reached(toolbox: Toolbox, calls: list[ToolCallDone]) -> str:
    wanted = ", ".join(dict.fromkeys(call.name for call in calls))
    return (
        f"\n\n[{_capitalised(toolbox.owner)} stopped after {toolbox.max_rounds} rounds of tool calls, its limit; "
        f"it still asked for: {wanted}. Those calls were not run.]"
    )


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
