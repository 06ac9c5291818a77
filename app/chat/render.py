"""Answer events as OpenAI chat completion chunks: the server-sent events of `/v1/chat/completions`.

One batch of events (what one upstream chunk said) becomes one chunk, so the client sees the upstream's
pacing, rewritten to OpenAI's invariants: every chunk carries the answer's first id, creation time and
model; a choice's role appears once, in its opening delta; a tool call's id, type and name only in its
first delta; usage, when the client asked for it (`stream_options.include_usage`), once, as a final chunk
with `choices: []`, summed over every turn; `data: [DONE]` last. A failure after the stream began ends it
with an error event in OpenAI's envelope (which the SDKs raise), never with a clean finish. While an agent's
tools run, the stream carries SSE comments (`: keep-alive`), which clients ignore; the calls the router ran
itself are not chat's to show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from app.errors import render_error
from app.pipeline.answer import add_usage
from app.pipeline.events import (
    ChoiceFinished,
    ChoiceStarted,
    KeepAlive,
    Logprobs,
    ReasoningDelta,
    ReasoningDetails,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallStarted,
    TurnMeta,
    TurnStarted,
    TurnUsage,
)
from app.sse import DONE, encode_data
from providers.schema import (
    UNSET,
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    ToolCallDeltaFunction,
)
from providers.schema import ToolCallDelta as WireToolCallDelta

if TYPE_CHECKING:
    from collections.abc import Sequence

    from msgspec import UnsetType

    from app.pipeline.events import AnswerEvent
    from providers.errors import RouterError
    from providers.schema import Usage

__all__ = ["ChunkWriter"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
KEEP_ALIVE = b": keep-alive\n\n"


@dataclass(slots=True)
class _Choice:
    """One choice of the chunk being written."""

    delta: ChoiceDelta
    finish_reason: str | None = None
    logprobs: dict[str, object] | None = None


class ChunkWriter:
    """Writes one answer's event batches as SSE frames of chat completion chunks."""

    def __init__(self, *, include_usage: bool) -> None:
        self.include_usage = include_usage
        self._id = ""
        self._created = 0
        self._model = ""
        self._fingerprint: str | UnsetType = UNSET
        self._service_tier: str | UnsetType = UNSET
        self._started: set[int] = set()
        self._usage: Usage | None = None
        self._around: tuple[bytes, bytes] | None = None  # a frame's bytes before and after its choices

    def write(self, events: Sequence[AnswerEvent]) -> bytes:
        """The frame for one batch of events (empty when the batch says nothing a client sees)."""
        if len(events) == 1 and (piece := _piece(events[0])) is not None:
            return self._frame([piece])
        choices: dict[int, _Choice] = {}

        def choice(index: int) -> _Choice:
            found = choices.get(index)
            if found is None:
                found = choices[index] = _Choice(ChoiceDelta())
            return found

        for event in events:
            if isinstance(event, TextDelta):
                delta = choice(event.choice).delta
                delta.content = (delta.content or "") + event.text
            elif isinstance(event, ToolCallDelta):
                _add_call(choice(event.choice).delta, _more_of_call(event))
            elif isinstance(event, ToolCallStarted):
                function = ToolCallDeltaFunction(name=event.name or UNSET, arguments=event.arguments)
                call = WireToolCallDelta(index=event.index, id=event.id, type="function", function=function)
                _add_call(choice(event.choice).delta, call)
            elif isinstance(event, ReasoningDelta):
                delta = choice(event.choice).delta
                delta.reasoning_content = (delta.reasoning_content or "") + event.text
            elif isinstance(event, RefusalDelta):
                delta = choice(event.choice).delta
                delta.refusal = (delta.refusal or "") + event.text
            elif isinstance(event, ReasoningDetails):
                delta = choice(event.choice).delta
                delta.reasoning_details = [*(delta.reasoning_details or ()), *event.details]
            elif isinstance(event, ChoiceFinished):
                choice(event.choice).finish_reason = event.finish_reason
            elif isinstance(event, ChoiceStarted):
                if event.choice not in self._started:
                    self._started.add(event.choice)
                    delta = choice(event.choice).delta
                    delta.role, delta.content, delta.refusal = "assistant", event.content, event.refusal
            elif isinstance(event, Logprobs):
                choice(event.choice).logprobs = event.logprobs
            elif isinstance(event, TurnUsage):
                self._usage = add_usage(self._usage, event.usage)
            elif isinstance(event, TurnStarted):
                if not self._id:
                    self._id, self._created, self._model = event.id, event.created, event.model
                    self._around = None
            elif isinstance(event, TurnMeta):
                self._fingerprint, self._service_tier = event.system_fingerprint, event.service_tier
                self._around = None
            elif isinstance(event, KeepAlive) and not choices:
                return KEEP_ALIVE
        if not choices:
            return b""
        return self._frame(
            [
                ChunkChoice(index=index, delta=state.delta, finish_reason=state.finish_reason, logprobs=state.logprobs)
                for index, state in choices.items()
            ]
        )

    def finish(self) -> bytes:
        """The end of a stream the upstream completed: the usage chunk if the client asked, then `[DONE]`."""
        if not self.include_usage:
            return DONE
        if self._usage is None:
            log.warning("the upstream sent no usage for a stream whose client asked for it")
            return DONE
        return encode_data(_encoder.encode(self._chunk([], self._usage))) + DONE

    def fail(self, error: RouterError) -> bytes:
        """The error event that ends a stream which failed after it began."""
        return encode_data(render_error(error).body)

    def _frame(self, choices: list[ChunkChoice]) -> bytes:
        """A chunk's frame. Only its choices change from one to the next: the rest is encoded once (again when
        the turn's fingerprint or tier changes) and only the choices are encoded into it."""
        if self._around is None:
            # `"choices":[]` can only be the key: a quote inside a JSON string is escaped.
            head, _, tail = encode_data(_encoder.encode(self._chunk([]))).partition(b'"choices":[]')
            self._around = head + b'"choices":', tail
        head, tail = self._around
        return b"".join((head, _encoder.encode(choices), tail))

    def _chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=choices,
            usage=usage if usage is not None else UNSET,
            system_fingerprint=self._fingerprint,
            service_tier=self._service_tier,
        )


def _piece(event: AnswerEvent) -> ChunkChoice | None:
    """The choice a batch of this one event writes, if it is one piece of text or of a call's arguments (most of
    a stream's batches are); None for any other event, which takes the general way."""
    if isinstance(event, TextDelta):
        return ChunkChoice(index=event.choice, delta=ChoiceDelta(content=event.text))
    if isinstance(event, ToolCallDelta):
        return ChunkChoice(index=event.choice, delta=ChoiceDelta(tool_calls=[_more_of_call(event)]))
    if isinstance(event, ReasoningDelta):
        return ChunkChoice(index=event.choice, delta=ChoiceDelta(reasoning_content=event.text))
    return None


def _more_of_call(event: ToolCallDelta) -> WireToolCallDelta:
    function = ToolCallDeltaFunction(name=event.name or UNSET, arguments=event.arguments or UNSET)
    return WireToolCallDelta(index=event.index, function=function)


def _add_call(delta: ChoiceDelta, call: WireToolCallDelta) -> None:
    if isinstance(delta.tool_calls, list):
        delta.tool_calls.append(call)
    else:
        delta.tool_calls = [call]
