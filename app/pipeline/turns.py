"""Routed model turns and answers, as the pipeline hands them to front ends and to an agent's loop.

A `Turn` is one routed model call as batches of answer events: a `TurnStream` when it is streamed (events
as chunks arrive), a `WholeTurn` when it was answered whole. An `Answer` is a whole answer; an
`AnswerStream` one being streamed, a single turn or an agent's rounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import anyio

from app.pipeline.normalise import ChunkNormaliser, completion_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.context import RequestContext
    from app.pipeline.events import AnswerEvent
    from app.routing import ChunkStream, RouteTarget
    from providers.schema import ChatCompletion

__all__ = ["Answer", "AnswerStream", "Turn", "TurnStream", "WholeTurn"]


class Turn(Protocol):
    """One routed model turn, as batches of answer events."""

    @property
    def target(self) -> RouteTarget:
        """The target that served (an agent's: the last round's)."""

    @property
    def attempts(self) -> int:
        """Upstream attempts it took."""

    def __aiter__(self) -> AsyncIterator[list[AnswerEvent]]: ...

    async def aclose(self) -> None: ...


class AnswerStream(Turn, Protocol):
    """An answer being streamed (one turn, or an agent's rounds)."""

    @property
    def tool_rounds(self) -> int | None:
        """Rounds of tool calls the router ran itself (None: no agent)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole answer: the normalised completion (usage summed over its turns), and who served it."""

    completion: ChatCompletion
    target: RouteTarget
    attempts: int
    tool_rounds: int | None = None
    """Rounds of tool calls the router ran itself (None: no agent)."""
    recorded: tuple[list[AnswerEvent], ...] = ()
    """An agent's events, in order (a single turn's are `completion`'s)."""

    def events(self) -> list[list[AnswerEvent]]:
        """The answer as the batches of events a stream of it gives."""
        return list(self.recorded) if self.recorded else [completion_events(self.completion)]


class TurnStream:
    """A routed turn being streamed, as batches of answer events.

    Iterating it runs the upstream stream to its end; a `RouterError` raised while iterating is the
    upstream failing after the answer began (the front end ends its stream with an error). However the
    iteration ends, the upstream request is closed and the request's context is told what it cost.
    """

    tool_rounds: int | None = None

    def __init__(self, chunks: ChunkStream, context: RequestContext) -> None:
        self.target = chunks.target
        self.attempts = chunks.attempts
        self._chunks = chunks
        self._context = context

    async def __aiter__(self) -> AsyncIterator[list[AnswerEvent]]:
        normaliser = ChunkNormaliser()
        try:
            async for chunk in self._chunks:
                if events := normaliser.feed(chunk):
                    yield events
            for events in normaliser.finish():
                yield events
        finally:
            self._context.count_usage(normaliser.usage)
            self._context.tool_calls += normaliser.tool_calls
            # The client may be gone (this task cancelled): close the upstream request regardless.
            with anyio.CancelScope(shield=True):
                await self._chunks.aclose()

    async def aclose(self) -> None:
        await self._chunks.aclose()


class WholeTurn:
    """A routed turn answered whole, as the one batch of events a stream of it would have given."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.target = answer.target
        self.attempts = answer.attempts

    async def __aiter__(self) -> AsyncIterator[list[AnswerEvent]]:
        yield completion_events(self.answer.completion)

    async def aclose(self) -> None:
        pass
