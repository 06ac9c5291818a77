"""OpenAI's output invariants, enforced on whatever any adapter produced, as answer events.

Adapters translate dialects; this module guarantees what a client sees, whichever provider answered:

- a tool call keeps its upstream id; its arguments are `"{}"`, never empty, when it takes none;
- `content` is `null` when an answer only calls tools, and `finish_reason` is within OpenAI's enum
  (`tool_calls` when there are tool calls);
- in a stream: every tool call gets an index, in the order calls begin; a new id on a reused index, or a
  missing index, starts the next call; a call's id and name are announced once; each choice starts once
  and finishes exactly once; the id, creation time and model are those of the turn's first chunk; usage is
  reported once, at the end.

`normalise_completion` fixes a whole answer in place, and `completion_events` says it as one batch of events.
`ChunkNormaliser` turns each upstream chunk of a stream into a batch of events (`app.pipeline.events`), and
`finish()` closes what the upstream left open.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.pipeline.events import (
    ChoiceFinished,
    ChoiceStarted,
    Logprobs,
    ReasoningDelta,
    ReasoningDetails,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    TurnMeta,
    TurnStarted,
    TurnUsage,
)
from providers.schema import FINISH_REASONS, UNSET, FunctionToolCall

if TYPE_CHECKING:
    from msgspec import UnsetType

    from app.pipeline.events import AnswerEvent
    from providers.schema import ChatCompletion, ChatCompletionChunk, ChunkChoice, Usage
    from providers.schema import ToolCallDelta as UpstreamToolCallDelta

__all__ = ["ChunkNormaliser", "completion_events", "finish_reason", "new_call_id", "normalise_completion"]

log = logging.getLogger(__name__)


def normalise_completion(completion: ChatCompletion) -> ChatCompletion:
    """Bring a complete (non-streamed) answer into OpenAI's exact shape, in place."""
    for choice in completion.choices:
        message = choice.message
        calls = message.tool_calls or []
        if not calls:
            message.tool_calls = UNSET
        for call in calls:
            if not call.id:
                call.id = new_call_id()
            if isinstance(call, FunctionToolCall) and not call.function.arguments.strip():
                call.function.arguments = "{}"
        if calls and message.content == "":
            message.content = None
        if not message.reasoning_content:
            message.reasoning_content = UNSET
        if not message.reasoning_details:
            message.reasoning_details = UNSET
        choice.finish_reason = finish_reason(choice.finish_reason, has_calls=bool(calls))
    if completion.system_fingerprint is None:
        completion.system_fingerprint = UNSET
    if completion.usage is None:
        completion.usage = UNSET
    return completion


def completion_events(completion: ChatCompletion) -> list[AnswerEvent]:
    """A normalised whole answer as the events a stream of it would have given, in one batch."""
    events: list[AnswerEvent] = [TurnStarted(completion.id, completion.created, completion.model)]
    fingerprint, tier = completion.system_fingerprint, completion.service_tier
    if isinstance(fingerprint, str) or isinstance(tier, str):
        events.append(
            TurnMeta(
                system_fingerprint=fingerprint if isinstance(fingerprint, str) else UNSET,
                service_tier=tier if isinstance(tier, str) else UNSET,
            )
        )
    for choice in completion.choices:
        index, message = choice.index, choice.message
        events.append(ChoiceStarted(index, "" if message.content else message.content, None))
        _said(events, index, message.reasoning_content, message.content, message.refusal)
        if message.reasoning_details:
            events.append(ReasoningDetails(index, message.reasoning_details))
        calls = [call for call in message.tool_calls or () if isinstance(call, FunctionToolCall)]
        for position, call in enumerate(calls):
            events.append(ToolCallStarted(index, position, call.id, call.function.name, call.function.arguments))
        for position, call in enumerate(calls):
            events.append(ToolCallDone(index, position, call.id, call.function.name, call.function.arguments))
        events.append(ChoiceFinished(index, choice.finish_reason or "stop"))
    if completion.usage:
        events.append(TurnUsage(completion.usage))
    return events


@dataclass(slots=True)
class _Call:
    id: str
    name: str | None
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _ChoiceState:
    finished: bool = False
    calls: list[_Call] = field(default_factory=list)
    by_upstream_index: dict[int, int] = field(default_factory=dict)


class ChunkNormaliser:
    """Turns one turn's upstream chunks, one at a time, into batches of answer events."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._started = False
        self._fingerprint: str | UnsetType = UNSET
        self._service_tier: str | UnsetType = UNSET
        self._choices: dict[int, _ChoiceState] = {}

    @property
    def tool_calls(self) -> int:
        """Tool calls seen so far, across every choice."""
        return sum(len(state.calls) for state in self._choices.values())

    def feed(self, chunk: ChatCompletionChunk) -> list[AnswerEvent]:
        """The events one upstream chunk says (often one or two; none for a keep-alive or a usage chunk)."""
        events: list[AnswerEvent] = []
        if chunk.usage:
            self.usage = chunk.usage
        if not self._started:
            self._started = True
            events.append(
                TurnStarted(
                    id=chunk.id or f"chatcmpl-{uuid.uuid4().hex}",
                    created=chunk.created or int(time.time()),
                    model=chunk.model,
                )
            )
        fingerprint = chunk.system_fingerprint if isinstance(chunk.system_fingerprint, str) else self._fingerprint
        tier = chunk.service_tier if isinstance(chunk.service_tier, str) else self._service_tier
        if fingerprint != self._fingerprint or tier != self._service_tier:
            self._fingerprint, self._service_tier = fingerprint, tier
            events.append(TurnMeta(system_fingerprint=fingerprint, service_tier=tier))
        for choice in chunk.choices:
            self._choice(choice, events)
        return events

    def finish(self) -> list[list[AnswerEvent]]:
        """The batches that end a turn the upstream completed: a finish for every choice still open (one
        batch each), then the turn's usage."""
        batches = [self._close(index, state, None) for index, state in self._choices.items() if not state.finished]
        if self.usage is not None:
            batches.append([TurnUsage(usage=self.usage)])
        return batches

    # ------------------------------------------------------------------------------------------ choices

    def _choice(self, choice: ChunkChoice, events: list[AnswerEvent]) -> None:
        index = choice.index
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState()
            events.append(ChoiceStarted(index, _opening(choice.delta.content), _opening(choice.delta.refusal)))
        elif state.finished:
            return
        delta = choice.delta
        _said(events, index, delta.reasoning_content, delta.content, delta.refusal)
        if delta.reasoning_details:
            events.append(ReasoningDetails(index, delta.reasoning_details))
        if choice.logprobs is not None:
            events.append(Logprobs(index, choice.logprobs))
        for call in delta.tool_calls or ():
            if (event := self._tool_call(index, state, call)) is not None:
                events.append(event)
        if choice.finish_reason is not None:
            events += self._close(index, state, choice.finish_reason)

    def _tool_call(
        self, choice: int, state: _ChoiceState, upstream: UpstreamToolCallDelta
    ) -> ToolCallStarted | ToolCallDelta | None:
        function = upstream.function or None
        arguments = (function.arguments if function else None) or ""
        name = (function.name if function else None) or None
        new_id = upstream.id or None
        position: int | None
        if isinstance(upstream.index, int):
            position = state.by_upstream_index.get(upstream.index)
        elif state.calls and new_id in (None, state.calls[-1].id):
            position = len(state.calls) - 1  # no index at all: a fragment of the call in progress
        else:
            position = None
        if position is None or (new_id is not None and new_id != state.calls[position].id):
            position = len(state.calls)
            call = _Call(id=new_id or new_call_id(), name=name)
            call.arguments.append(arguments)
            state.calls.append(call)
            if isinstance(upstream.index, int):
                state.by_upstream_index[upstream.index] = position
            return ToolCallStarted(choice, position, call.id, name, arguments)
        call = state.calls[position]
        late_name: str | None = None
        if name and call.name is None:
            call.name = late_name = name
        if not arguments and late_name is None:
            return None
        call.arguments.append(arguments)
        return ToolCallDelta(choice, position, late_name, arguments)

    def _close(self, choice: int, state: _ChoiceState, reason: str | None) -> list[AnswerEvent]:
        """Finish a choice: `"{}"` for calls that never got arguments, each call done, one finish reason."""
        state.finished = True
        events: list[AnswerEvent] = []
        for position, call in enumerate(state.calls):
            arguments = "".join(call.arguments)
            if not arguments:
                arguments = "{}"
                events.append(ToolCallDelta(choice, position, None, arguments))
            events.append(ToolCallDone(choice, position, call.id, call.name or "", arguments))
        events.append(ChoiceFinished(choice, finish_reason(reason, has_calls=bool(state.calls))))
        return events


def _said(
    events: list[AnswerEvent],
    choice: int,
    reasoning: str | None | UnsetType,
    text: str | None | UnsetType,
    refusal: str | None | UnsetType,
) -> None:
    """What a message or a delta says, in the order a reader meets it: reasoning, then text or refusal."""
    if reasoning:
        events.append(ReasoningDelta(choice, reasoning))
    if text:
        events.append(TextDelta(choice, text))
    if refusal:
        events.append(RefusalDelta(choice, refusal))


def _opening(value: str | None | UnsetType) -> str | None | UnsetType:
    """How a choice's first delta opened a field: OpenAI opens with null or "", and text follows as deltas."""
    return "" if value else value


def finish_reason(reason: str | None, *, has_calls: bool) -> str:
    """A finish reason within OpenAI's enum: `tool_calls` when there are calls, `stop` for anything unknown."""
    if reason is None or (reason == "stop" and has_calls):
        return "tool_calls" if has_calls else "stop"
    if reason not in FINISH_REASONS:
        log.warning("upstream finish_reason %r is not OpenAI's; sent as 'stop'", reason)
        return "stop"
    return reason


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"
