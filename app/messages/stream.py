"""Answer events as Anthropic's stream: the server-sent events of `POST /v1/messages` with `stream: true`.

    message_start                   the message, with no content yet (usage is reported at the end)
    ping
    for each content block, numbered from 0 by `index` in the order blocks begin:
        content_block_start         a thinking, text or tool_use block (a tool call once its name is known)
        content_block_delta ...     thinking_delta, text_delta, input_json_delta (argument fragments)
        content_block_stop
    message_delta                   the stop reason, and the whole message's usage
    message_stop

A block ends when the next one begins, as Anthropic's do: reasoning, then text, then each tool call in
turn. One exception keeps parallel calls apart even if an upstream interleaves their argument fragments: a
tool call whose arguments are not yet a whole JSON value stays open, its fragments still sent under its own
`index`, until the message ends. Tool calls are keyed by turn, so a later turn's call 0 is a new block.

A failure after the stream began ends it with an `error` event in Anthropic's envelope (which the
Anthropic SDKs raise), never with `message_stop`; so does a tool call whose arguments are not a JSON object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import msgspec

from app.errors import render_error
from app.messages.from_chat import delta_usage, new_message_id, stop_reason, tool_input
from app.pipeline import events as answer
from app.pipeline.answer import add_usage
from providers.anthropic_schema import (
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
    ErrorResponse,
    InputJsonDelta,
    Message,
    MessageDelta,
    MessageDeltaBody,
    MessageStart,
    MessageStop,
    Ping,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
    Usage,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from providers.anthropic_schema import StreamEvent
    from providers.errors import RouterError
    from providers.schema import Usage as ChatUsage

__all__ = ["MessageEventWriter", "encode_events"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()
_BlockKind = Literal["text", "thinking", "tool_use"]


@dataclass(slots=True)
class _Call:
    id: str
    name: str | None
    arguments: list[str] = field(default_factory=list)
    block: int | None = None  # its content block's index, once announced
    closed: bool = False

    def whole(self) -> bool:
        """Whether the arguments so far are a whole JSON value: nothing more can follow them."""
        arguments = "".join(self.arguments)
        if not arguments.strip():
            return False
        try:
            _decoder.decode(arguments)
        except (msgspec.DecodeError, RecursionError):
            return False
        return True


@dataclass(slots=True)
class _Block:
    index: int
    kind: _BlockKind
    call: _Call | None = None


class MessageEventWriter:
    """Turns one answer's event batches into Anthropic stream events."""

    def __init__(self, model: str, provider: str) -> None:
        self._id = new_message_id()
        self._model = model
        self._provider = provider
        self._started = False
        self._turn = 0
        self._blocks = 0
        self._open: list[_Block] = []
        self._calls: dict[tuple[int, int], _Call] = {}
        self._finish_reason: str | None = None
        self._refused = False
        self._usage: ChatUsage | None = None

    def feed(self, batch: Iterable[answer.AnswerEvent]) -> list[StreamEvent]:
        """The events for one batch of answer events (the first batch also starts the message)."""
        events: list[StreamEvent] = []
        for event in batch:
            if isinstance(event, answer.TurnStarted):
                # Tool calls are numbered per turn: a later turn's call 0 is a new call.
                self._turn += 1
                events += self._start(event.model)
            elif getattr(event, "choice", 0) != 0:
                continue  # Anthropic's API has no `n`: only the first choice was asked for
            elif isinstance(event, answer.TextDelta):
                events += self._write("text", event.text)
            elif isinstance(event, answer.ToolCallStarted | answer.ToolCallDelta):
                events += self._call_delta(event)
            elif isinstance(event, answer.ToolCallDone):
                events += self._call_done(event)
            elif isinstance(event, answer.ReasoningDelta):
                events += self._write("thinking", event.text)
            elif isinstance(event, answer.RefusalDelta):
                self._refused = True
                events += self._write("text", event.text)
            elif isinstance(event, answer.ChoiceFinished):
                self._finish_reason = event.finish_reason
            elif isinstance(event, answer.TurnUsage):
                self._usage = add_usage(self._usage, event.usage)
        return events

    def finish(self) -> list[StreamEvent]:
        """The events that end a message the upstream completed: open blocks stop, then the message."""
        events = self._start("")
        events += [ContentBlockStop(index=block.index) for block in self._open]
        self._open.clear()
        reason = stop_reason(self._finish_reason, refused=self._refused)
        events.append(
            MessageDelta(delta=MessageDeltaBody(stop_reason=reason, stop_sequence=None), usage=delta_usage(self._usage))
        )
        events.append(MessageStop())
        return events

    def fail(self, error: RouterError) -> bytes:
        """The `error` event that ends a stream which failed after it began."""
        return b"event: error\ndata: " + render_error(error, "anthropic").body + b"\n\n"

    # ------------------------------------------------------------------------------------------ lifecycle

    def _start(self, model: str) -> list[StreamEvent]:
        if self._started:
            return []
        self._started = True
        # The model that answers, as the upstream names it (the request named a route, maybe an alias).
        self._model = model or self._model
        message = Message(
            id=self._id,
            role="assistant",
            content=[],
            model=self._model,
            stop_reason=None,
            stop_sequence=None,
            usage=Usage(input_tokens=0, output_tokens=0),
        )
        return [MessageStart(message=message), Ping()]

    def _open_block(self, kind: _BlockKind, call: _Call | None = None) -> _Block:
        block = _Block(self._blocks, kind, call)
        self._blocks += 1
        self._open.append(block)
        return block

    def _close_for_next(self) -> list[StreamEvent]:
        """Stop the open blocks before another begins, except tool calls that may still grow."""
        events: list[StreamEvent] = []
        still_open: list[_Block] = []
        for block in self._open:
            if block.call is not None and not block.call.whole():
                still_open.append(block)
                continue
            if block.call is not None:
                block.call.closed = True
            events.append(ContentBlockStop(index=block.index))
        self._open = still_open
        return events

    # ----------------------------------------------------------------------------------- text and thinking

    def _write(self, kind: _BlockKind, text: str) -> list[StreamEvent]:
        if not text:
            return []  # Anthropic has no empty blocks, and clients reject them when echoed back
        events = self._start("")
        block = next((block for block in self._open if block.call is None), None)
        if block is None or block.kind != kind:
            events += self._close_for_next()
            block = self._open_block(kind)
            opened = TextBlock(text="") if kind == "text" else ThinkingBlock(thinking="", signature="")
            events.append(ContentBlockStart(index=block.index, content_block=opened))
        delta = TextDelta(text=text) if kind == "text" else ThinkingDelta(thinking=text)
        events.append(ContentBlockDelta(index=block.index, delta=delta))
        return events

    # ------------------------------------------------------------------------------------------ tool calls

    def _call_delta(self, event: answer.ToolCallStarted | answer.ToolCallDelta) -> list[StreamEvent]:
        key = (self._turn, event.index)
        call = self._calls.get(key)
        if call is None:
            call_id = event.id if isinstance(event, answer.ToolCallStarted) else new_message_id()
            call = self._calls[key] = _Call(call_id, event.name)
        elif event.name and call.name is None:
            call.name = event.name
        if event.arguments:
            call.arguments.append(event.arguments)
        if call.block is None:
            return self._announce(call) if call.name is not None else []
        if event.arguments and not call.closed:
            return [ContentBlockDelta(index=call.block, delta=InputJsonDelta(partial_json=event.arguments))]
        # Fragments after a whole JSON value can only spoil it: the complete call is checked when it is done.
        return []

    def _announce(self, call: _Call) -> list[StreamEvent]:
        events = self._start("")
        events += self._close_for_next()
        block = self._open_block("tool_use", call)
        call.block = block.index
        started = ToolUseBlock(id=call.id, name=call.name or "", input={})
        events.append(ContentBlockStart(index=block.index, content_block=started))
        if arguments := "".join(call.arguments):
            events.append(ContentBlockDelta(index=block.index, delta=InputJsonDelta(partial_json=arguments)))
        return events

    def _call_done(self, event: answer.ToolCallDone) -> list[StreamEvent]:
        # Raises when the arguments cannot be an `input` object: the stream then ends with an error.
        tool_input(event.name, event.arguments, self._provider)
        call = self._calls.get((self._turn, event.index))
        if call is None or call.block is None:
            call = self._calls[(self._turn, event.index)] = _Call(event.id, event.name, [event.arguments])
            return self._announce(call)
        return []


def encode_events(events: Iterable[StreamEvent]) -> bytes:
    """SSE frames named as Anthropic names them: `event: <type>\\ndata: <json>\\n\\n`."""
    return b"".join(_FRAME_STARTS[type(event)] + _encoder.encode(event) + b"\n\n" for event in events)


# Each event's frame opens with its name: made once per type, not once per event.
_FRAME_STARTS = {
    kind: b"event: " + str(kind.__struct_config__.tag).encode() + b"\ndata: "
    for kind in (
        MessageStart,
        ContentBlockStart,
        ContentBlockDelta,
        ContentBlockStop,
        MessageDelta,
        MessageStop,
        Ping,
        ErrorResponse,
    )
}
