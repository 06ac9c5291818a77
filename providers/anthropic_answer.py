"""Anthropic's answers, read into the router's neutral types: a whole message, or a stream of events.

An upstream is read leniently, where the router's own Messages API front door (`providers.anthropic_schema`)
writes strictly: a content block, delta or event of a type the router does not know is skipped, not an
error (Anthropic says new event types may appear), and one struct with optional fields reads every block
and every event, so a thinking block that opens without its signature (it comes last, as a delta) reads
as well as a finished one.

    message                   -> ChatCompletion
      text blocks               `content`, concatenated (`null` when the answer only calls tools)
      thinking blocks           `reasoning_content`, and each block whole in `reasoning_details`
      redacted_thinking         a `reasoning.encrypted` entry of `reasoning_details`
      tool_use                  `tool_calls`, ids kept, `input` as the arguments' JSON text
      stop_reason               `finish_reason` (`_FINISH`)
      usage                     OpenAI's usage: cache reads and writes count as prompt tokens

    stream                    -> chunks, at most one per event (`AnswerStream`)
      message_start             the opening delta (role, `content: ""`)
      content_block_start       a tool call opens with its id and name, joined to its first argument
                                fragment; a redacted thinking block is one `reasoning_details` entry
      text / thinking_delta     `content` / `reasoning_content`
      input_json_delta          argument fragments of the block's call (calls are counted apart from
                                blocks, so parallel calls get indexes 0, 1, ... whatever blocks precede them)
      signature_delta           kept until the block stops; then the whole block is one entry of
                                `reasoning_details`
      message_delta             the finish reason, and the usage (Anthropic's counts are cumulative)
      message_stop              the end; `ping` and unknown events say nothing

A client that echoes the assistant message sends `reasoning_details` back, and `providers.anthropic_request`
turns each entry into the thinking block it came from, signature included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from providers.schema import (
    UNSET,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    CompletionMessage,
    CompletionTokensDetails,
    FunctionCall,
    FunctionToolCall,
    PromptTokensDetails,
    ToolCallDelta,
    ToolCallDeltaFunction,
    Usage,
)

__all__ = [
    "REASONING_FORMAT",
    "AnswerStream",
    "Event",
    "ReadMessage",
    "completion",
    "finish_reason",
]

# What `reasoning_details` entries say they hold; OpenRouter names Claude's signed thinking the same way.
REASONING_FORMAT = "anthropic-claude-v1"

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",  # a server tool's long turn, paused: the client may continue it
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_NO_INPUT = b"{}"


class _OutputDetails(msgspec.Struct):
    thinking_tokens: int | None = None


class ReadUsage(msgspec.Struct):
    """Usage as a message or a `message_delta` reports it (every count may be missing from a delta)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens_details: _OutputDetails | None = None


class ReadBlock(msgspec.Struct):
    """One content block, whatever its type; fields its type does not have keep their defaults."""

    type: str
    text: str = ""
    thinking: str = ""
    signature: str = ""
    data: str = ""
    id: str = ""
    name: str = ""
    input: msgspec.Raw = msgspec.Raw(_NO_INPUT)  # the tool's arguments, as the upstream's own JSON text


class ReadMessage(msgspec.Struct):
    """A message (a whole answer, or a stream's opening), or an error body answered with status 200."""

    type: str = "message"
    id: str = ""
    model: str = ""
    content: list[ReadBlock] = []
    stop_reason: str | None = None
    usage: ReadUsage | None = None


class ReadDelta(msgspec.Struct):
    """A `content_block_delta`'s delta, or a `message_delta`'s."""

    type: str = ""
    text: str = ""
    partial_json: str = ""
    thinking: str = ""
    signature: str = ""
    stop_reason: str | None = None


class ReadError(msgspec.Struct):
    type: str = "api_error"
    message: str = ""


class Event(msgspec.Struct):
    """One stream event; its `type` says which of the other fields it carries. Also an error body."""

    type: str
    index: int = 0
    message: ReadMessage | None = None
    content_block: ReadBlock | None = None
    delta: ReadDelta | None = None
    usage: ReadUsage | None = None
    error: ReadError | None = None
    request_id: str | None = None


def finish_reason(stop_reason: str | None) -> str | None:
    """OpenAI's finish reason for Anthropic's stop reason (None: unknown, left to the normaliser)."""
    return _FINISH.get(stop_reason or "")


def completion(message: ReadMessage, *, created: int | None = None) -> ChatCompletion:
    """A whole answer as a chat completion."""
    text: list[str] = []
    reasoning: list[str] = []
    details: list[dict[str, object]] = []
    calls: list[FunctionToolCall] = []
    for block in message.content:
        if block.type == "text":
            text.append(block.text)
        elif block.type == "thinking":
            reasoning.append(block.thinking)
            details.append(_thinking_detail(len(details), block.thinking, block.signature))
        elif block.type == "redacted_thinking":
            details.append(_redacted_detail(len(details), block.data))
        elif block.type == "tool_use":
            calls.append(FunctionToolCall(id=block.id, function=FunctionCall(name=block.name, arguments=_json(block))))
    return ChatCompletion(
        id=message.id,
        created=int(time.time()) if created is None else created,
        model=message.model,
        choices=[
            Choice(
                message=CompletionMessage(
                    content="".join(text) if text or not calls else None,
                    tool_calls=list(calls) or UNSET,
                    reasoning_content="".join(reasoning) or UNSET,
                    reasoning_details=details or UNSET,
                ),
                finish_reason=finish_reason(message.stop_reason),
            )
        ],
        usage=_usage(message.usage) if message.usage else UNSET,
    )


@dataclass(slots=True)
class _Block:
    """What the stream needs to remember of an open content block."""

    type: str
    call: int = -1  # a tool_use block's position among the answer's tool calls
    pending: FunctionToolCall | None = None  # a call not yet announced: it goes out with its first fragment
    thinking: list[str] = field(default_factory=list)
    signature: list[str] = field(default_factory=list)


class AnswerStream:
    """Turns one answer's stream events into chat completion chunks, at most one per event."""

    def __init__(self, *, created: int | None = None) -> None:
        self.finished = False  # the finish reason arrived
        self.stopped = False  # `message_stop` arrived
        self._id = ""
        self._model = ""
        self._created = int(time.time()) if created is None else created
        self._usage = ReadUsage()
        self._usage_reported = False
        self._blocks: dict[int, _Block] = {}
        self._calls = 0
        self._details = 0

    def feed(self, event: Event) -> ChatCompletionChunk | None:
        """The chunk one event says, if it says anything a client sees (an `error` event is the caller's)."""
        kind = event.type
        if kind == "content_block_delta" and event.delta is not None:
            return self._delta(event.index, event.delta)
        if kind == "content_block_start" and event.content_block is not None:
            return self._start(event.index, event.content_block)
        if kind == "content_block_stop":
            return self._stop(event.index)
        if kind == "message_start" and event.message is not None:
            self._id, self._model = event.message.id, event.message.model
            self._count(event.message.usage)
            return self._chunk(ChoiceDelta(role="assistant", content=""))
        if kind == "message_delta":
            self._count(event.usage)
            reason = event.delta.stop_reason if event.delta else None
            if reason is None:
                return None
            self.finished = True
            usage = _usage(self._usage) if self._usage_reported else None
            return self._chunk(ChoiceDelta(), finish=finish_reason(reason) or "stop", usage=usage)
        if kind == "message_stop":
            self.stopped = True
        return None

    # ---------------------------------------------------------------------------------------------- blocks

    def _start(self, index: int, block: ReadBlock) -> ChatCompletionChunk | None:
        opened = self._blocks[index] = _Block(block.type)
        if block.type == "tool_use":
            opened.call, self._calls = self._calls, self._calls + 1
            call = FunctionToolCall(id=block.id, function=FunctionCall(name=block.name, arguments=""))
            if bytes(block.input) == _NO_INPUT:
                opened.pending = call
                return None
            # Input that comes whole with the block, rather than as deltas (never seen from Anthropic itself).
            call.function.arguments = _json(block)
            opened.type = "whole_tool_use"
            return self._call(opened.call, call)
        if block.type == "thinking":
            opened.thinking.append(block.thinking)
            opened.signature.append(block.signature)
            return self._chunk(ChoiceDelta(reasoning_content=block.thinking)) if block.thinking else None
        if block.type == "redacted_thinking":
            detail = _redacted_detail(self._next_detail(), block.data)
            return self._chunk(ChoiceDelta(reasoning_details=[detail]))
        if block.type == "text" and block.text:
            return self._chunk(ChoiceDelta(content=block.text))
        return None

    def _delta(self, index: int, delta: ReadDelta) -> ChatCompletionChunk | None:
        block = self._blocks.get(index)
        if block is None:
            return None
        if delta.type == "text_delta" and delta.text:
            return self._chunk(ChoiceDelta(content=delta.text))
        if delta.type == "input_json_delta" and delta.partial_json and block.type == "tool_use":
            if block.pending is not None:
                call, block.pending = block.pending, None
                call.function.arguments = delta.partial_json
                return self._call(block.call, call)
            arguments = ToolCallDeltaFunction(arguments=delta.partial_json)
            return self._chunk(ChoiceDelta(tool_calls=[ToolCallDelta(index=block.call, function=arguments)]))
        if delta.type == "thinking_delta" and delta.thinking:
            block.thinking.append(delta.thinking)
            return self._chunk(ChoiceDelta(reasoning_content=delta.thinking))
        if delta.type == "signature_delta":
            block.signature.append(delta.signature)
        return None

    def _stop(self, index: int) -> ChatCompletionChunk | None:
        block = self._blocks.pop(index, None)
        if block is None:
            return None
        if block.pending is not None:  # a call that took no arguments
            return self._call(block.call, block.pending)
        if block.type == "thinking":
            detail = _thinking_detail(self._next_detail(), "".join(block.thinking), "".join(block.signature))
            return self._chunk(ChoiceDelta(reasoning_details=[detail]))
        return None

    # --------------------------------------------------------------------------------------------- helpers

    def _call(self, index: int, call: FunctionToolCall) -> ChatCompletionChunk:
        function = ToolCallDeltaFunction(name=call.function.name, arguments=call.function.arguments)
        opening = ToolCallDelta(index=index, id=call.id, type="function", function=function)
        return self._chunk(ChoiceDelta(tool_calls=[opening]))

    def _next_detail(self) -> int:
        index, self._details = self._details, self._details + 1
        return index

    def _count(self, usage: ReadUsage | None) -> None:
        """Take the counts a message or delta reports; a later report replaces an earlier one's counts."""
        if usage is None:
            return
        self._usage_reported = True
        kept = self._usage
        for name in ReadUsage.__struct_fields__:
            value = getattr(usage, name)
            if value is not None:
                setattr(kept, name, value)

    def _chunk(
        self, delta: ChoiceDelta, *, finish: str | None = None, usage: Usage | None = None
    ) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],
            usage=usage if usage is not None else UNSET,
        )


def _usage(usage: ReadUsage) -> Usage:
    """OpenAI's usage: every input token, cached or not, is a prompt token; cache reads are `cached_tokens`."""
    cache_read, cache_write = usage.cache_read_input_tokens, usage.cache_creation_input_tokens
    prompt = (usage.input_tokens or 0) + (cache_read or 0) + (cache_write or 0)
    completion_tokens = usage.output_tokens or 0
    thinking = usage.output_tokens_details.thinking_tokens if usage.output_tokens_details else None
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion_tokens,
        total_tokens=prompt + completion_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cache_read) if cache_read is not None else UNSET,
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=thinking) if thinking is not None else UNSET,
    )


def _json(block: ReadBlock) -> str:
    return bytes(block.input).decode()


def _thinking_detail(index: int, thinking: str, signature: str) -> dict[str, object]:
    return {
        "type": "reasoning.text",
        "text": thinking,
        "signature": signature,
        "format": REASONING_FORMAT,
        "index": index,
    }


def _redacted_detail(index: int, data: str) -> dict[str, object]:
    return {"type": "reasoning.encrypted", "data": data, "format": REASONING_FORMAT, "index": index}
