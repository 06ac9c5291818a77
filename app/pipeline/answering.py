"""The answer pipeline: admit a request, run its routed model turns, normalise them, account for them.

    request ──> AnswerPipeline ──> Router (targets, retries, fallback) ──> provider adapter
                     │                 one routed turn: TurnStream (streamed) or WholeTurn
                     ├── an agent's model, or a request's toolbox: AgentRun, rounds of turns and
                     │   registry tool calls
                     ├── complete(): a whole, normalised answer            (Answer)
                     └── stream():   batches of answer events as they come (AnswerStream)

Every front end (`/v1/chat/completions`, `/v1/responses`, `/v1/messages`) calls the pipeline and only
renders what it gives back. Everything a request costs is counted here, in its `RequestContext`: the
client key's admission (models it may use, requests and tokens per minute), the target that served,
usage and tool calls, added up turn by turn, so an answer made of several turns bills all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.access.gate import admit, estimate_tokens
from app.agents.loop import AgentRun
from app.context import current
from app.pipeline.normalise import normalise_completion
from app.pipeline.turns import Answer, TurnStream, WholeTurn

if TYPE_CHECKING:
    from collections.abc import Iterable

    from app.access.limits import RateLimiter
    from app.agents.directory import AgentDirectory
    from app.agents.memory import TurnMemory
    from app.agents.toolbox import Toolbox
    from app.pipeline.turns import AnswerStream
    from app.routing import Overrides, Router
    from app.tools.registry import ToolRegistry
    from providers.request import ChatRequest

__all__ = ["AnswerPipeline"]


class AnswerPipeline:
    """Answers chat requests through the router, for every front end."""

    def __init__(
        self,
        router: Router,
        limiter: RateLimiter,
        *,
        timeout: float,
        agents: AgentDirectory | None = None,
        registry: ToolRegistry | None = None,
        memory: TurnMemory | None = None,
    ) -> None:
        self.router = router
        self.limiter = limiter
        self.timeout = timeout
        self.agents = agents
        self.registry = registry
        self.memory = memory

    async def complete(
        self,
        request: ChatRequest,
        overrides: Overrides | None,
        models: Iterable[tuple[str, str]],
        *,
        toolbox: Toolbox | None = None,
    ) -> Answer:
        """A whole answer to `request`, from a client allowed `models` ((name, param) pairs); `toolbox` is
        registry tools the request itself asks the router to run (a Responses request's `mcp` tools)."""
        await admit(self.limiter, models, estimate_tokens(request))
        run = self._agent_run(request, overrides, streamed=False, toolbox=toolbox)
        if run is None:
            return (await self.whole_turn(request, overrides)).answer
        await run.open()
        recorded = [batch async for batch in run]
        return Answer(run.completion(), run.target, run.attempts, run.tool_rounds, tuple(recorded))

    async def stream(
        self,
        request: ChatRequest,
        overrides: Overrides | None,
        models: Iterable[tuple[str, str]],
        *,
        toolbox: Toolbox | None = None,
    ) -> AnswerStream:
        """Start streaming an answer: returns once its first chunk has arrived (until then it may still be
        retried or sent elsewhere), and the stream is closed when the request ends, whatever happens."""
        await admit(self.limiter, models, estimate_tokens(request))
        current().stream = True
        run = self._agent_run(request, overrides, streamed=True, toolbox=toolbox)
        if run is None:
            return await self.turn_stream(request, overrides)
        current().on_close(run.aclose)
        await run.open()
        return run

    async def whole_turn(self, request: ChatRequest, overrides: Overrides | None) -> WholeTurn:
        """One routed, normalised, accounted turn, answered whole."""
        context = current()
        routed = await self.router.complete(request, overrides)
        completion = normalise_completion(routed.completion)
        context.served(routed.target.name)
        context.count_usage(completion.usage)
        context.tool_calls += sum(len(choice.message.tool_calls or ()) for choice in completion.choices)
        return WholeTurn(Answer(completion, routed.target, routed.attempts))

    async def turn_stream(self, request: ChatRequest, overrides: Overrides | None) -> TurnStream:
        """One routed turn, streamed from its first chunk on; closed when the request ends."""
        context = current()
        chunks = await self.router.open_stream(request, overrides)
        context.on_close(chunks.aclose)
        context.served(chunks.target.name)
        return TurnStream(chunks, context)

    def _agent_run(
        self, request: ChatRequest, overrides: Overrides | None, *, streamed: bool, toolbox: Toolbox | None
    ) -> AgentRun | None:
        agent = toolbox or (self.agents.get(request.params.model) if self.agents is not None else None)
        if agent is None:
            return None
        assert self.registry is not None, "agents need the tool registry"
        assert self.memory is not None
        return AgentRun(
            agent=agent,
            request=request,
            overrides=overrides,
            timeout=self.timeout,
            registry=self.registry,
            memory=self.memory,
            limiter=self.limiter,
            open_turn=self.turn_stream if streamed else self.whole_turn,
        )
