"""Answer events to Responses stream events, in OpenAI's order and numbering; and a whole answer's events
to the finished response (`render`), so that a streamed and a non-streamed answer are the same response.

    response.created, response.in_progress
    for each MCP server whose tools are listed: response.output_item.added,
        response.mcp_list_tools.in_progress, ....completed (or ....failed), response.output_item.done
    for each output item, in `output_index` order of appearance:
        response.output_item.added
        for each content part (text or refusal in a message, reasoning text in a reasoning item):
            response.content_part.added, ...delta events..., ....done, response.content_part.done
        for a function call: response.function_call_arguments.delta events, ....done
        for a call the router runs (`mcp_call`): response.mcp_call.in_progress,
            response.mcp_call_arguments.delta, ....done; once it has run, response.mcp_call.completed
            (or ....failed)
        response.output_item.done
    response.completed (or response.incomplete when the answer was cut short)

A failure ends the stream with `response.failed` then `error`, never with `response.completed`.
`sequence_number` counts every event from 0.

Text and reasoning items close as soon as another item begins. Function calls stay open until the answer
ends, because a chat upstream may interleave the argument fragments of parallel calls; the events carry
each call's `output_index` and `item_id`, so clients assemble them all the same. A call is announced
(`output_item.added`) once its name is known, which is in its first delta whenever the upstream sends it
there; argument fragments that came before are sent with the announcement. An `mcp_call` item opens when
the router starts the call and closes when it has run; a call waiting for the client's approval is an
`mcp_approval_request` item, whole at once. The text of a round after the router's calls is a message of
its own, after their items: the blank line an agent's answer puts between rounds (for chat, which has one
message) is not part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import msgspec

from app.agents.loop import ROUND_SEPARATOR
from app.errors import responses_error_code
from app.pipeline import events as answer
from app.pipeline.answer import add_usage
from app.responses.events import (
    ContentPartAdded,
    ContentPartDone,
    ErrorDetail,
    ErrorEvent,
    Event,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    MCPCallArgumentsDelta,
    MCPCallArgumentsDone,
    MCPCallCompleted,
    MCPCallFailed,
    MCPCallInProgress,
    MCPListToolsCompleted,
    MCPListToolsFailed,
    MCPListToolsInProgress,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    OutputTextDone,
    ReasoningTextDelta,
    ReasoningTextDone,
    RefusalDelta,
    RefusalDone,
    ResponseCompleted,
    ResponseCreated,
    ResponseFailed,
    ResponseIncomplete,
    ResponseInProgress,
)
from app.responses.from_chat import finished, outcome
from app.responses.items import (
    FunctionCall,
    ItemStatus,
    MCPApprovalRequest,
    MCPCall,
    MCPCallError,
    MCPCallStatus,
    MCPHttpError,
    MCPListTools,
    MCPProtocolError,
    MCPToolExecutionError,
    OutputContent,
    OutputItem,
    OutputMessage,
    OutputText,
    Reasoning,
    ReasoningText,
    Refusal,
)
from app.responses.wire import ResponseError, ResponseObject, new_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from providers.errors import RouterError
    from providers.schema import Usage

__all__ = ["ResponseEventWriter", "render"]

_PartKind = Literal["text", "refusal", "reasoning"]
_DELTA_EVENTS: dict[_PartKind, type[OutputTextDelta | RefusalDelta | ReasoningTextDelta]] = {
    "text": OutputTextDelta,
    "refusal": RefusalDelta,
    "reasoning": ReasoningTextDelta,
}


class _Place(TypedDict):
    """Where a content part sits, as every event about it says."""

    item_id: str
    output_index: int
    content_index: int


class _ItemPlace(TypedDict):
    """Which item an item's own event is about."""

    item_id: str
    output_index: int


_TEXT_DONE_EVENTS: dict[_PartKind, type[OutputTextDone | ReasoningTextDone]] = {
    "text": OutputTextDone,
    "reasoning": ReasoningTextDone,
}
_ItemKind = Literal["message", "reasoning"]


@dataclass(slots=True)
class _Part:
    kind: _PartKind
    index: int
    pieces: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(slots=True)
class _OpenItem:
    """The message or reasoning item being streamed."""

    kind: _ItemKind
    id: str
    output_index: int
    parts: list[_Part] = field(default_factory=list)


@dataclass(slots=True)
class _Call:
    id: str
    call_id: str
    name: str | None = None
    arguments: list[str] = field(default_factory=list)
    output_index: int | None = None  # set when announced


def render(
    response: ResponseObject, batches: Iterable[list[answer.AnswerEvent]], listings: Sequence[MCPListTools] = ()
) -> ResponseObject:
    """The finished response for a whole answer's events: the one a stream of them ends with."""
    writer = ResponseEventWriter(response, listings)
    for batch in batches:
        writer.feed(batch)
    writer.finish()
    return writer.response


class ResponseEventWriter:
    """Turns one answer's events into Responses events; `response` is the final object once finished.
    `listings` are the `mcp_list_tools` items the response starts with."""

    def __init__(self, response: ResponseObject, listings: Sequence[MCPListTools] = ()) -> None:
        self.response = response
        self._listings = listings
        self._sequence = 0
        self._started = False
        self._model: str | None = None
        self._open: _OpenItem | None = None
        self._turn = 0
        self._calls: dict[tuple[int, int], _Call] = {}
        self._running: dict[str, MCPCall] = {}  # mcp_call items open, by call id
        self._indexes: dict[str, int] = {}  # their output index, by item id
        self._after_tools = False  # the last item was one of the router's calls
        self._approvals = 0
        self._done: dict[int, OutputItem] = {}
        self._next_output_index = 0
        self._has_message = False
        self._finish_reason: str | None = None
        self._usage: Usage | None = None

    def feed(self, batch: Iterable[answer.AnswerEvent]) -> list[Event]:
        """The Responses events for one batch of answer events (the first batch also starts the response)."""
        events: list[Event] = []
        for event in batch:
            # One lookup per event: this runs for every chunk of a stream, and for every whole answer.
            handle = _HANDLERS.get(type(event))
            if handle is not None and getattr(event, "choice", 0) == 0:
                # The Responses API has no `n`: only the first choice was asked for.
                events += handle(self, event)
        return events

    def _turn_started(self, event: answer.TurnStarted) -> list[Event]:
        # Tool calls are numbered per turn: a later turn's call 0 is a new call.
        self._turn += 1
        self._model = self._model or event.model
        return self._start(event.model)

    def _text(self, event: answer.TextDelta) -> list[Event]:
        if self._after_tools and self._open is None and event.text == ROUND_SEPARATOR:
            return []
        return self._append("message", "text", event.text)

    def _reasoning(self, event: answer.ReasoningDelta) -> list[Event]:
        return self._append("reasoning", "reasoning", event.text)

    def _refusal(self, event: answer.RefusalDelta) -> list[Event]:
        return self._append("message", "refusal", event.text)

    def _choice_finished(self, event: answer.ChoiceFinished) -> list[Event]:
        self._finish_reason = event.finish_reason
        return []

    def _turn_usage(self, event: answer.TurnUsage) -> list[Event]:
        self._usage = add_usage(self._usage, event.usage)
        return []

    def finish(self) -> list[Event]:
        """The events that end an answer the upstream completed: open items close, then the response."""
        events = self._start(None)
        status, _ = outcome(self._finish_reason)
        item_status: ItemStatus = "incomplete" if status == "incomplete" else "completed"
        events += self._close_open(item_status)
        for call in self._calls_in_order():
            events += self._close_call(call)
        for call_id, running in list(self._running.items()):  # a loop that ended normally left none
            events += self._close_mcp_call(call_id, running, "incomplete")
        if not self._has_message and not self._calls and not self._approvals:
            # A response that waits for approvals ends with them, as OpenAI's does.
            events += self._empty_message()
        self.response = finished(
            self.response,
            model=self._model or self.response.model,
            output=[self._done[index] for index in sorted(self._done)],
            finish_reason=self._finish_reason,
            usage=self._usage,
        )
        if self.response.status == "incomplete":
            return [*events, ResponseIncomplete(sequence_number=self._next(), response=self.response)]
        return [*events, ResponseCompleted(sequence_number=self._next(), response=self.response)]

    def fail(self, error: RouterError) -> list[Event]:
        """The events that end a failed answer: `response.failed` with what was produced, then `error`."""
        events = self._start(None)
        self.response = msgspec.structs.replace(
            self.response,
            status="failed",
            error=ResponseError(code=responses_error_code(error), message=error.message),
            output=self._partial_output(),
        )
        events.append(ResponseFailed(sequence_number=self._next(), response=self.response))
        events.append(
            ErrorEvent(
                sequence_number=self._next(),
                code=error.code,
                message=error.message,
                param=error.param,
                error=ErrorDetail(message=error.message, type=error.type, param=error.param, code=error.code),
            )
        )
        return events

    # ------------------------------------------------------------------------------------------ lifecycle

    def _start(self, model: str | None) -> list[Event]:
        if self._started:
            return []
        self._started = True
        if model:
            # The model that answers, as chat reports it (the request named a route, maybe an alias).
            self.response = msgspec.structs.replace(self.response, model=model)
        events: list[Event] = [
            ResponseCreated(sequence_number=self._next(), response=self.response),
            ResponseInProgress(sequence_number=self._next(), response=self.response),
        ]
        for listing in self._listings:
            events += self._listed(listing)
        return events

    def _listed(self, listing: MCPListTools) -> list[Event]:
        index = self._output_index()
        where = _ItemPlace(item_id=listing.id, output_index=index)
        added = msgspec.structs.replace(listing, tools=[], error=None)
        self._done[index] = listing
        return [
            OutputItemAdded(sequence_number=self._next(), output_index=index, item=added),
            MCPListToolsInProgress(sequence_number=self._next(), **where),
            (MCPListToolsFailed if listing.error else MCPListToolsCompleted)(sequence_number=self._next(), **where),
            OutputItemDone(sequence_number=self._next(), output_index=index, item=listing),
        ]

    def _next(self) -> int:
        number = self._sequence
        self._sequence += 1
        return number

    def _output_index(self) -> int:
        index = self._next_output_index
        self._next_output_index += 1
        return index

    # ----------------------------------------------------------------------------------- text and reasoning

    def _append(self, item_kind: _ItemKind, part_kind: _PartKind, text: str) -> list[Event]:
        events: list[Event] = []
        item = self._open
        if item is None or item.kind != item_kind:
            events += self._close_open("completed")
            item = self._open_item(item_kind, events)
        part = item.parts[-1] if item.parts else None
        if part is None or part.kind != part_kind:
            if part is not None:
                events += self._close_part(item, part)
            part = _Part(part_kind, len(item.parts))
            item.parts.append(part)
            events.append(
                ContentPartAdded(
                    sequence_number=self._next(),
                    item_id=item.id,
                    output_index=item.output_index,
                    content_index=part.index,
                    part=_content(part_kind, ""),
                )
            )
        part.pieces.append(text)
        events.append(self._delta(item, part, text))
        return events

    def _open_item(self, kind: _ItemKind, events: list[Event]) -> _OpenItem:
        item = _OpenItem(kind, new_id("msg" if kind == "message" else "rs"), self._output_index())
        self._open = item
        self._after_tools = False
        self._has_message = self._has_message or kind == "message"
        added: OutputItem = (
            OutputMessage(id=item.id, status="in_progress", content=[])
            if kind == "message"
            else Reasoning(id=item.id, content=[], status="in_progress")
        )
        events.append(OutputItemAdded(sequence_number=self._next(), output_index=item.output_index, item=added))
        return item

    def _delta(self, item: _OpenItem, part: _Part, text: str) -> Event:
        event = _DELTA_EVENTS[part.kind]
        return event(
            sequence_number=self._next(),
            item_id=item.id,
            output_index=item.output_index,
            content_index=part.index,
            delta=text,
        )

    def _close_part(self, item: _OpenItem, part: _Part) -> list[Event]:
        part.done = True
        where = _Place(item_id=item.id, output_index=item.output_index, content_index=part.index)
        done: Event
        if part.kind == "refusal":
            done = RefusalDone(sequence_number=self._next(), **where, refusal=part.text)
        else:
            done = _TEXT_DONE_EVENTS[part.kind](sequence_number=self._next(), **where, text=part.text)
        part_done = ContentPartDone(sequence_number=self._next(), **where, part=_content(part.kind, part.text))
        return [done, part_done]

    def _close_open(self, status: ItemStatus) -> list[Event]:
        item, self._open = self._open, None
        if item is None:
            return []
        events: list[Event] = []
        if item.parts and not item.parts[-1].done:
            events += self._close_part(item, item.parts[-1])
        final = _final_item(item, status)
        self._done[item.output_index] = final
        events.append(OutputItemDone(sequence_number=self._next(), output_index=item.output_index, item=final))
        return events

    def _empty_message(self) -> list[Event]:
        """An answer with no text and no tool call still gets a message, as a whole answer would."""
        events: list[Event] = []
        item = self._open_item("message", events)
        part = _Part("text", 0)
        item.parts.append(part)
        events.append(
            ContentPartAdded(
                sequence_number=self._next(),
                item_id=item.id,
                output_index=item.output_index,
                content_index=0,
                part=_content("text", ""),
            )
        )
        return events + self._close_open("completed")

    # ------------------------------------------------------------------------------------------ tool calls

    def _call_delta(self, event: answer.ToolCallStarted | answer.ToolCallDelta) -> list[Event]:
        events: list[Event] = []
        key = (self._turn, event.index)
        call = self._calls.get(key)
        if call is None:
            events += self._close_open("completed")
            call_id = event.id if isinstance(event, answer.ToolCallStarted) else new_id("call")
            call = self._calls[key] = _Call(id=new_id("fc"), call_id=call_id)
        if event.name and call.name is None:
            call.name = event.name
        if event.arguments:
            call.arguments.append(event.arguments)
        if call.output_index is None and call.name is not None:
            events += self._announce(call)
        elif call.output_index is not None and event.arguments:
            events.append(
                FunctionCallArgumentsDelta(
                    sequence_number=self._next(),
                    item_id=call.id,
                    output_index=call.output_index,
                    delta=event.arguments,
                )
            )
        return events

    def _announce(self, call: _Call) -> list[Event]:
        call.output_index = self._output_index()
        added = FunctionCall(id=call.id, call_id=call.call_id, name=call.name or "", arguments="", status="in_progress")
        events: list[Event] = [
            OutputItemAdded(sequence_number=self._next(), output_index=call.output_index, item=added)
        ]
        if call.arguments:
            events.append(
                FunctionCallArgumentsDelta(
                    sequence_number=self._next(),
                    item_id=call.id,
                    output_index=call.output_index,
                    delta="".join(call.arguments),
                )
            )
        return events

    def _calls_in_order(self) -> list[_Call]:
        """Announced calls by output index, then any the upstream never named (announced now)."""
        announced = sorted(
            (call for call in self._calls.values() if call.output_index is not None),
            key=lambda call: call.output_index or 0,
        )
        return announced + [call for call in self._calls.values() if call.output_index is None]

    def _close_call(self, call: _Call) -> list[Event]:
        events = self._announce(call) if call.output_index is None else []
        assert call.output_index is not None
        final = _final_call(call, "completed")
        self._done[call.output_index] = final
        events.append(
            FunctionCallArgumentsDone(
                sequence_number=self._next(),
                item_id=call.id,
                name=final.name,
                output_index=call.output_index,
                arguments=final.arguments,
            )
        )
        events.append(OutputItemDone(sequence_number=self._next(), output_index=call.output_index, item=final))
        return events

    # --------------------------------------------------------------------------------- the router's calls

    def _mcp_call_started(self, event: answer.ToolRunning) -> list[Event]:
        events = self._start(None)  # calls the client approved run before the first turn
        events += self._close_open("completed")
        self._after_tools = True
        item = MCPCall(
            id=new_id("mcp"),
            server_label=event.server,
            name=event.name,
            arguments="",
            status="in_progress",
            approval_request_id=event.approval_request_id,
        )
        index = self._output_index()
        self._running[event.call_id] = msgspec.structs.replace(item, arguments=event.arguments)
        self._indexes[item.id] = index
        where = _ItemPlace(item_id=item.id, output_index=index)
        return [
            *events,
            OutputItemAdded(sequence_number=self._next(), output_index=index, item=item),
            MCPCallInProgress(sequence_number=self._next(), **where),
            MCPCallArgumentsDelta(sequence_number=self._next(), **where, delta=event.arguments),
            MCPCallArgumentsDone(sequence_number=self._next(), **where, arguments=event.arguments),
        ]

    def _mcp_call_done(self, event: answer.ToolExecuted) -> list[Event]:
        events: list[Event] = []
        if event.call_id not in self._running:
            started = answer.ToolRunning(
                event.call_id, event.server, event.name, event.arguments, event.approval_request_id
            )
            events += self._mcp_call_started(started)
        running = self._running[event.call_id]
        failure = event.failure
        if failure is None:
            final = msgspec.structs.replace(running, output=event.output, status="completed")
        else:
            final = msgspec.structs.replace(running, error=_mcp_error(failure), status="failed")
        return events + self._close_mcp_call(event.call_id, final, final.status)

    def _close_mcp_call(self, call_id: str, item: MCPCall, status: MCPCallStatus) -> list[Event]:
        del self._running[call_id]
        final = msgspec.structs.replace(item, status=status)
        index = self._indexes[item.id]
        self._done[index] = final
        where = _ItemPlace(item_id=item.id, output_index=index)
        ended = MCPCallFailed if status != "completed" else MCPCallCompleted
        return [
            ended(sequence_number=self._next(), **where),
            OutputItemDone(sequence_number=self._next(), output_index=index, item=final),
        ]

    def _approval_request(self, event: answer.ApprovalRequested) -> list[Event]:
        events = self._start(None)
        events += self._close_open("completed")
        self._after_tools = True
        self._approvals += 1
        item = MCPApprovalRequest(
            id=new_id("mcpr"), server_label=event.server, name=event.name, arguments=event.arguments
        )
        index = self._output_index()
        self._done[index] = item
        return [
            *events,
            OutputItemAdded(sequence_number=self._next(), output_index=index, item=item),
            OutputItemDone(sequence_number=self._next(), output_index=index, item=item),
        ]

    # --------------------------------------------------------------------------------------------- failure

    def _partial_output(self) -> list[OutputItem]:
        """What a failed answer produced: finished items, and the unfinished ones marked incomplete."""
        output = dict(self._done)
        if self._open is not None:
            output[self._open.output_index] = _final_item(self._open, "incomplete")
        for call in self._calls.values():
            if call.output_index is not None:
                output[call.output_index] = _final_call(call, "incomplete")
        for running in self._running.values():
            output[self._indexes[running.id]] = msgspec.structs.replace(running, status="incomplete")
        return [output[index] for index in sorted(output)]


_HANDLERS: dict[type[answer.AnswerEvent], Callable[[ResponseEventWriter, Any], list[Event]]] = {
    answer.TurnStarted: ResponseEventWriter._turn_started,
    answer.TextDelta: ResponseEventWriter._text,
    answer.ToolCallStarted: ResponseEventWriter._call_delta,
    answer.ToolCallDelta: ResponseEventWriter._call_delta,
    answer.ReasoningDelta: ResponseEventWriter._reasoning,
    answer.RefusalDelta: ResponseEventWriter._refusal,
    answer.ChoiceFinished: ResponseEventWriter._choice_finished,
    answer.TurnUsage: ResponseEventWriter._turn_usage,
    answer.ToolRunning: ResponseEventWriter._mcp_call_started,
    answer.ToolExecuted: ResponseEventWriter._mcp_call_done,
    answer.ApprovalRequested: ResponseEventWriter._approval_request,
}
"""What the writer does with each kind of answer event (the others say nothing a response shows)."""


def _mcp_error(failure: answer.ToolFailure) -> MCPCallError:
    """A failed call's error, as the variant OpenAI uses for that kind of failure."""
    if failure.kind == "tool":
        return MCPToolExecutionError(content=[{"type": "text", "text": failure.message}])
    if failure.kind == "protocol":
        return MCPProtocolError(code=failure.code, message=failure.message)
    return MCPHttpError(code=failure.code, message=failure.message)


def _content(kind: _PartKind, text: str) -> OutputText | Refusal | ReasoningText:
    if kind == "text":
        return OutputText(text=text)
    if kind == "refusal":
        return Refusal(refusal=text)
    return ReasoningText(text=text)


def _final_item(item: _OpenItem, status: ItemStatus) -> OutputItem:
    if item.kind == "reasoning":
        return Reasoning(id=item.id, content=[ReasoningText(text=part.text) for part in item.parts], status=status)
    content: list[OutputContent] = [
        OutputText(text=part.text) if part.kind == "text" else Refusal(refusal=part.text) for part in item.parts
    ]
    return OutputMessage(id=item.id, status=status, content=content)


def _final_call(call: _Call, status: ItemStatus) -> FunctionCall:
    return FunctionCall(
        id=call.id,
        call_id=call.call_id,
        name=call.name or "",
        arguments="".join(call.arguments),
        status=status,
    )
