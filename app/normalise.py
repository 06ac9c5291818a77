"""OpenAI's output invariants, enforced on whatever any adapter produced.

Adapters translate dialects; this module guarantees what a client sees, whichever provider answered:

- a tool call keeps its upstream id; its arguments are `"{}"`, never empty, when it takes none;
- `content` is `null` when an answer only calls tools, and `finish_reason` is within OpenAI's enum
  (`tool_calls` when there are tool calls);
- in a stream: every tool-call delta carries `index`; `id`, `type` and `function.name` appear only in a
  call's first delta; a new id on a reused index, or a missing index, gets the next index; `role` appears
  once; each choice has exactly one `finish_reason`; the id, creation time and model are the same on every
  chunk; usage is held back and sent once, as a final `choices: []` chunk, only when the client asked.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from providers.schema import (
    FINISH_REASONS,
    UNSET,
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionToolCall,
    ToolCallDelta,
    ToolCallDeltaFunction,
    Usage,
)

if TYPE_CHECKING:
    from msgspec import UnsetType

    from providers.schema import ChatCompletion

__all__ = ["StreamNormaliser", "normalise_completion"]

log = logging.getLogger(__name__)
_EMPTY_DELTA = ChoiceDelta()


def normalise_completion(completion: ChatCompletion) -> ChatCompletion:
    """Bring a complete (non-streamed) answer into OpenAI's exact shape, in place."""
    for choice in completion.choices:
        message = choice.message
        calls = message.tool_calls or []
        if not calls:
            message.tool_calls = UNSET
        for call in calls:
            if not call.id:
                call.id = _call_id()
            if isinstance(call, FunctionToolCall) and not call.function.arguments.strip():
                call.function.arguments = "{}"
        if calls and message.content == "":
            message.content = None
        if not message.reasoning_content:
            message.reasoning_content = UNSET
        choice.finish_reason = _finish_reason(choice.finish_reason, has_calls=bool(calls))
    if completion.system_fingerprint is None:
        completion.system_fingerprint = UNSET
    if completion.usage is None:
        completion.usage = UNSET
    return completion


@dataclass(slots=True)
class _Call:
    id: str
    named: bool
    has_arguments: bool = False


@dataclass(slots=True)
class _ChoiceState:
    started: bool = False
    finished: bool = False
    calls: list[_Call] = field(default_factory=list)
    by_upstream_index: dict[int, int] = field(default_factory=dict)


class StreamNormaliser:
    """Rewrites an upstream's chunks, one at a time, into a stream that keeps OpenAI's invariants."""

    def __init__(self, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.usage: Usage | None = None
        self._id = ""
        self._created = 0
        self._model = ""
        self._fingerprint: str | UnsetType = UNSET
        self._service_tier: str | UnsetType = UNSET
        self._choices: dict[int, _ChoiceState] = {}

    @property
    def tool_calls(self) -> int:
        """Tool calls seen so far, across every choice."""
        return sum(len(state.calls) for state in self._choices.values())

    def feed(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk | None:
        """The chunk to send for this upstream chunk (rewritten in place), or None when it carries nothing."""
        if chunk.usage:
            self.usage = chunk.usage
        chunk.usage = UNSET
        if not self._id:
            self._id = chunk.id or f"chatcmpl-{uuid.uuid4().hex}"
            self._created = chunk.created or int(time.time())
            self._model = chunk.model
        chunk.id, chunk.created, chunk.model = self._id, self._created, self._model or chunk.model
        if chunk.system_fingerprint is None:
            chunk.system_fingerprint = UNSET
        elif chunk.system_fingerprint is not UNSET:
            self._fingerprint = chunk.system_fingerprint
        if isinstance(chunk.service_tier, str):
            self._service_tier = chunk.service_tier
        chunk.choices = [choice for choice in chunk.choices if self._rewrite(choice)]
        return chunk if chunk.choices else None

    def finish(self) -> list[ChatCompletionChunk]:
        """The chunks that end a stream the upstream completed: any missing finish, then usage if asked."""
        closing = [
            self._chunk([self._close(index, state, None)])
            for index, state in self._choices.items()
            if not state.finished
        ]
        if self.include_usage and self.usage is not None:
            closing.append(self._chunk([], usage=self.usage))
        elif self.include_usage:
            log.warning("the upstream sent no usage for a stream whose client asked for it")
        return closing

    # ------------------------------------------------------------------------------------------ choices

    def _rewrite(self, choice: ChunkChoice) -> bool:
        """Rewrite one choice in place; False when nothing in it is worth sending."""
        state = self._choices.setdefault(choice.index, _ChoiceState())
        if state.finished:
            return False
        upstream = choice.delta
        delta = ChoiceDelta(
            content=upstream.content or UNSET,
            refusal=upstream.refusal or UNSET,
            reasoning_content=upstream.reasoning_content or UNSET,
        )
        if not state.started:
            state.started = True
            delta.role = "assistant"
            # The opening delta keeps `content` and `refusal` as sent (OpenAI opens with them, null or "").
            if upstream.content is not UNSET:
                delta.content = upstream.content
            if upstream.refusal is not UNSET:
                delta.refusal = upstream.refusal
        calls = [call for tc in upstream.tool_calls or () if (call := self._tool_call(state, tc)) is not None]
        choice.delta = delta
        if choice.finish_reason is not None:
            closing = self._close(choice.index, state, choice.finish_reason)
            calls.extend(closing.delta.tool_calls or ())
            choice.finish_reason = closing.finish_reason
        delta.tool_calls = calls or UNSET
        return choice.finish_reason is not None or choice.logprobs is not None or delta != _EMPTY_DELTA

    def _tool_call(self, state: _ChoiceState, upstream: ToolCallDelta) -> ToolCallDelta | None:
        function = upstream.function or ToolCallDeltaFunction()
        arguments = function.arguments or ""
        new_id = upstream.id or None
        if isinstance(upstream.index, int):
            index = state.by_upstream_index.get(upstream.index)
        elif state.calls and new_id in (None, state.calls[-1].id):
            index = len(state.calls) - 1  # no index at all: a fragment of the call in progress
        else:
            index = None
        if index is None or (new_id is not None and new_id != state.calls[index].id):
            index = len(state.calls)
            call = _Call(id=new_id or _call_id(), named=bool(function.name), has_arguments=bool(arguments))
            state.calls.append(call)
            if isinstance(upstream.index, int):
                state.by_upstream_index[upstream.index] = index
            return ToolCallDelta(
                index=index,
                id=call.id,
                type="function",
                function=ToolCallDeltaFunction(name=function.name or UNSET, arguments=arguments),
            )
        call = state.calls[index]
        name: str | None = None
        if function.name and not call.named:
            call.named, name = True, function.name
        if not arguments and name is None:
            return None
        call.has_arguments = call.has_arguments or bool(arguments)
        return ToolCallDelta(
            index=index, function=ToolCallDeltaFunction(name=name or UNSET, arguments=arguments or UNSET)
        )

    def _close(self, index: int, state: _ChoiceState, finish_reason: str | None) -> ChunkChoice:
        """Finish a choice: `"{}"` for calls that never got arguments, and a finish reason in the enum."""
        state.finished = True
        empty = [
            ToolCallDelta(index=position, function=ToolCallDeltaFunction(arguments="{}"))
            for position, call in enumerate(state.calls)
            if not call.has_arguments
        ]
        for position in range(len(state.calls)):
            state.calls[position].has_arguments = True
        return ChunkChoice(
            index=index,
            delta=ChoiceDelta(tool_calls=empty or UNSET),
            finish_reason=_finish_reason(finish_reason, has_calls=bool(state.calls)),
        )

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id or f"chatcmpl-{uuid.uuid4().hex}",
            created=self._created or int(time.time()),
            model=self._model,
            choices=choices,
            usage=usage if usage is not None else UNSET,
            system_fingerprint=self._fingerprint,
            service_tier=self._service_tier,
        )


def _finish_reason(reason: str | None, *, has_calls: bool) -> str:
    if reason is None or (reason == "stop" and has_calls):
        return "tool_calls" if has_calls else "stop"
    if reason not in FINISH_REASONS:
        log.warning("upstream finish_reason %r is not OpenAI's; sent as 'stop'", reason)
        return "stop"
    return reason


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"
