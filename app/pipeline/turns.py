"""The answer pipeline: admit a request, run a routed model turn, normalise it, account for it.

    request ──> AnswerPipeline ──> Router (targets, retries, fallback) ──> provider adapter
                     │
                     ├── complete(): a whole, normalised answer        (Answer)
                     └── stream():   batches of answer events as they come (AnswerStream)

Both front ends (`/v1/chat/completions`, `/v1/responses`) call the pipeline and only render what it gives
them. Everything a request costs is counted here, in its `RequestContext`: the client key's admission
(models it may use, requests and tokens per minute), the target that served, usage and tool calls, added up
turn by turn so an answer made of several turns bills all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from app.access.gate import admit, estimate_tokens
from app.context import current
from app.pipeline.answer import AnswerBuilder
from app.pipeline.normalise import ChunkNormaliser, normalise_completion

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from app.access.limits import RateLimiter
    from app.context import RequestContext
    from app.pipeline.events import AnswerEvent
    from app.routing import ChunkStream, Overrides, Router, RouteTarget
    from providers.request import ChatRequest
    from providers.schema import ChatCompletion

__all__ = ["Answer", "AnswerPipeline", "AnswerStream"]


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole answer: the normalised completion (usage summed over its turns), and who served it."""

    completion: ChatCompletion
    target: RouteTarget
    attempts: int


class AnswerStream:
    """A routed answer being streamed, as batches of answer events; whole (`completion()`) once it is over.

    Iterating it runs the upstream stream to its end; a `RouterError` raised while iterating is the
    upstream failing after the answer began (the front end ends its stream with an error). However the
    iteration ends, the upstream request is closed and the request's context is told what it cost.
    """

    def __init__(self, chunks: ChunkStream, context: RequestContext) -> None:
        self.target = chunks.target
        self.attempts = chunks.attempts
        self._chunks = chunks
        self._context = context
        self._answer = AnswerBuilder()

    async def __aiter__(self) -> AsyncIterator[list[AnswerEvent]]:
        normaliser = ChunkNormaliser()
        try:
            async for chunk in self._chunks:
                if events := normaliser.feed(chunk):
                    self._answer.feed(events)
                    yield events
            for events in normaliser.finish():
                self._answer.feed(events)
                yield events
        finally:
            self._context.count_usage(normaliser.usage)
            self._context.tool_calls += normaliser.tool_calls
            # The client may be gone (this task cancelled): close the upstream request regardless.
            with anyio.CancelScope(shield=True):
                await self._chunks.aclose()

    async def aclose(self) -> None:
        await self._chunks.aclose()

    def completion(self) -> ChatCompletion:
        """The answer so far, as the completion a non-streamed request would have got."""
        return self._answer.completion()


class AnswerPipeline:
    """Answers chat requests through the router, for every front end."""

    def __init__(self, router: Router, limiter: RateLimiter) -> None:
        self.router = router
        self.limiter = limiter

    async def complete(
        self, request: ChatRequest, overrides: Overrides | None, models: Iterable[tuple[str, str]]
    ) -> Answer:
        """A whole answer to `request`, from a client allowed `models` ((name, param) pairs)."""
        context = current()
        await admit(self.limiter, models, estimate_tokens(request))
        routed = await self.router.complete(request, overrides)
        completion = normalise_completion(routed.completion)
        context.served(routed.target.name)
        context.count_usage(completion.usage)
        context.tool_calls += sum(len(choice.message.tool_calls or ()) for choice in completion.choices)
        return Answer(completion, routed.target, routed.attempts)

    async def stream(
        self, request: ChatRequest, overrides: Overrides | None, models: Iterable[tuple[str, str]]
    ) -> AnswerStream:
        """Start streaming an answer: returns once its first chunk has arrived (until then it may still be
        retried or sent elsewhere), and the stream is closed when the request ends, whatever happens."""
        context = current()
        await admit(self.limiter, models, estimate_tokens(request))
        chunks = await self.router.open_stream(request, overrides)
        context.on_close(chunks.aclose)
        context.served(chunks.target.name)
        context.stream = True
        return AnswerStream(chunks, context)
