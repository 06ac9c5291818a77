"""Running a request: attempts on a target, fallback across targets, one deadline over all of it.

The router tries the plan's targets in order. When an attempt fails, the decision table
(`app.routing.decisions`) says what to do next: try the same target again after a wait, move on, come back
to a target that is only briefly unavailable once nothing else answered, or give up. This module only
carries the decisions out, on the injected clock and sleep, and keeps the one count of attempts. A stream
counts as answered once its first chunk arrives: after that it is never retried or sent elsewhere, so two
models' output is never spliced.

Tenacity is not used here: every retry decision is the table's, and what remains is a short loop.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from app.routing.decisions import Action, AttemptEnd, Decision, decide, health_outcome
from app.routing.guard import check_tool_calls
from app.routing.health import CircuitState, Outcome
from app.routing.observer import Unobserved
from app.routing.plan import order_targets
from app.schemas import SchemaCompiler
from providers.deadlines import Deadlines
from providers.errors import (
    ProviderNotConfigured,
    RouterError,
    TargetUnavailable,
    UpstreamCannotServe,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

    from app.routing.health import HealthBoard
    from app.routing.observer import RoutingObserver
    from app.routing.plan import Planner, RoutePlan, RouteTarget
    from app.settings import RoutingSettings, ToolCallGuard
    from providers.request import ChatRequest
    from providers.schema import ChatCompletion, ChatCompletionChunk

__all__ = ["ChunkStream", "Overrides", "Routed", "Router"]

T = TypeVar("T")

# Waits for briefly unavailable targets, per request. The deadline ends them first in practice; this bound
# only guards against a clock that does not move.
_MAX_WAITS = 1000


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a request asks of routing beyond its plan: limits a client sets with headers, and the tools the
    tool-call guard leaves alone (an agent's own: the agent loop checks those calls itself)."""

    timeout: float | None = None
    max_attempts: int | None = None
    unguarded_tools: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Routed:
    """A complete answer and how it was obtained."""

    completion: ChatCompletion
    target: RouteTarget
    attempts: int


@dataclass(slots=True)
class _Lease:
    """One attempt's slot on the health board, returned with the attempt's outcome."""

    board: HealthBoard
    target: RouteTarget
    started: float
    observer: RoutingObserver
    clock: Callable[[], float]
    latency: float | None = None
    ended: bool = False

    async def end(self, outcome: Outcome, retry_after: float | None = None, error: BaseException | None = None) -> None:
        if not self.ended:
            self.ended = True
            latency = self.latency if outcome is Outcome.SUCCESS else None
            seconds = self.latency if self.latency is not None else self.clock() - self.started
            self.observer.attempt_finished(self.target.name, outcome, seconds, error)
            if self.target.provider.scripted and outcome in (Outcome.FAILURE, Outcome.RATE_LIMITED):
                outcome = Outcome.NEUTRAL  # it failed as its script says: nothing learned about its health
            await self.board.release(self.target.name, self.target.group, outcome, latency, retry_after)

    async def fail(self, error: BaseException) -> None:
        retry_after = error.retry_after if isinstance(error, UpstreamRateLimited) else None
        await self.end(health_outcome(error), retry_after, error)


class ChunkStream:
    """A stream whose first chunk has arrived: it can no longer fall back, and it holds its target's slot."""

    def __init__(
        self,
        target: RouteTarget,
        first: ChatCompletionChunk | None,
        rest: AsyncGenerator[ChatCompletionChunk, None],
        lease: _Lease,
        attempts: int = 1,
        decide: Callable[[RouterError], Decision] | None = None,
    ) -> None:
        self.target = target
        self.attempts = attempts
        self._first = first
        self._rest = rest
        self._lease = lease
        self._decide = decide or _give_up

    async def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        try:
            async for chunk in self._rest:
                yield chunk
        except RouterError as error:
            await self._lease.fail(error)
            # The table gives up on a started stream, with the error that ends it: nothing is tried elsewhere.
            raise (self._decide(error).error or error) from error.__cause__
        except BaseException as error:
            await self._lease.fail(error)
            raise

    async def aclose(self) -> None:
        """Stop the upstream request (a client that goes away must not keep it running)."""
        try:
            await self._rest.aclose()
        finally:
            await self._lease.end(Outcome.SUCCESS)


def _give_up(error: RouterError) -> Decision:
    return Decision(Action.GIVE_UP, "the stream has started", error=error)


@dataclass(slots=True)
class _Position:
    """Where a request stands on its current target, as the decision table reads it."""

    attempt: int
    allowed: int
    deadline: float
    guard: ToolCallGuard


@dataclass(slots=True)
class _Tried:
    """What one target did for a request."""

    target: RouteTarget
    attempts: int = 0
    error: RouterError | None = None  # how its last attempt failed
    skipped: RouterError | None = None  # why it was then not tried (again)
    why_skipped: str = ""

    def describe(self) -> str:
        if self.error is None:
            return f"{self.target.name}: not tried: {self.why_skipped}"
        described = f"{self.target.name}: {self.error.message}"
        if self.attempts > 1:
            described += f" ({self.attempts} attempts)"
        if self.skipped is not None:
            described += f"; then not tried again: {self.why_skipped}"
        return described


@dataclass(slots=True)
class _Record:
    """The attempts one request made: the one count of them, and the error its client gets if all failed."""

    name: str
    targets: dict[str, _Tried] = field(default_factory=dict)
    total: int = 0

    def on(self, target: RouteTarget) -> _Tried:
        tried = self.targets.get(target.name)
        if tried is None:
            tried = self.targets[target.name] = _Tried(target)
        return tried

    def began(self, target: RouteTarget) -> None:
        tried = self.on(target)
        tried.attempts += 1
        tried.skipped = None
        self.total += 1

    def failed(self, target: RouteTarget, error: RouterError) -> None:
        self.on(target).error = error

    def skipped(self, target: RouteTarget, error: RouterError, why: str) -> None:
        tried = self.on(target)
        tried.skipped, tried.why_skipped = error, why

    def exhausted(self, out_of_time: bool) -> RouterError:
        """The most meaningful error once every target has failed, saying what happened to each."""
        tried = list(self.targets.values())
        if len(tried) == 1 and not out_of_time:
            only = tried[0]
            error = only.error or only.skipped
            assert error is not None
            return error  # the target's own error, as its upstream (or the router) gave it
        described = "; ".join(entry.describe() for entry in tried) or "nothing (no time left)"
        message = f"No target of '{self.name}' could answer. Tried: {described}"
        errors = [error for entry in tried if (error := entry.error or entry.skipped) is not None]
        waits = [error.retry_after for error in errors if error.retry_after]
        if out_of_time:
            return UpstreamTimeout(message, provider=self.name, code="deadline_exceeded")
        if errors and all(isinstance(error, UpstreamRateLimited) for error in errors):
            return UpstreamRateLimited(message, provider=self.name, retry_after=min(waits, default=None))
        if errors and all(isinstance(error, UpstreamCannotServe) for error in errors):
            first = errors[0]
            return UpstreamCannotServe(message, provider=self.name, status=first.http_status, code=first.code)
        if any(
            isinstance(error, UpstreamUnavailable | UpstreamRateLimited | ProviderNotConfigured) for error in errors
        ):
            return UpstreamUnavailable(message, provider=self.name, retry_after=min(waits, default=None))
        return UpstreamError(message, provider=self.name)


class Router:
    """Runs requests against the targets their plan names."""

    def __init__(
        self,
        planner: Planner,
        board: HealthBoard,
        settings: RoutingSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        observer: RoutingObserver | None = None,
        schemas: SchemaCompiler | None = None,
    ) -> None:
        self.planner = planner
        self.board = board
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.observer: RoutingObserver = observer or Unobserved()
        self.schemas = schemas or SchemaCompiler()  # what the tool-call guard checks arguments with
        self._deadlines = Deadlines()  # each attempt's time

    async def complete(self, request: ChatRequest, overrides: Overrides | None = None) -> Routed:
        plan = await self.planner.plan(request)
        request = plan.request
        guard = plan.policy.tool_call_guard if request.params.tools else "off"
        unguarded = overrides.unguarded_tools if overrides is not None else frozenset()

        async def call(target: RouteTarget, lease: _Lease, position: _Position) -> ChatCompletion:
            completion = await target.provider.complete(request, target.model)
            if guard != "off":
                check_tool_calls(request.params, completion, target.provider.name, self.schemas, skip=unguarded)
            lease.latency = self.clock() - lease.started
            await lease.end(Outcome.SUCCESS)
            return completion

        completion, target, attempts = await self._route(plan, overrides, call, guard)
        return Routed(completion, target, attempts)

    async def open_stream(self, request: ChatRequest, overrides: Overrides | None = None) -> ChunkStream:
        """Start a stream and wait for its first chunk: until then it may still be retried or fall back."""
        plan = await self.planner.plan(request)
        request = plan.request

        async def call(target: RouteTarget, lease: _Lease, position: _Position) -> ChunkStream:
            chunks = target.provider.stream(request, target.model)
            try:
                first = await anext(chunks, None)
            except BaseException:
                await chunks.aclose()
                raise
            lease.latency = self.clock() - lease.started
            decide_started = functools.partial(self._decide, position, started=True)
            return ChunkStream(target, first, chunks, lease, decide=decide_started)

        # The guard reads whole answers: a stream's tool calls reach the client as they arrive.
        stream, _, attempts = await self._route(plan, overrides, call, "off")
        stream.attempts = attempts
        return stream

    async def _route(
        self,
        plan: RoutePlan,
        overrides: Overrides | None,
        call: Callable[[RouteTarget, _Lease, _Position], Awaitable[T]],
        guard: ToolCallGuard,
    ) -> tuple[T, RouteTarget, int]:
        overrides = overrides or Overrides()
        deadline = self.clock() + (overrides.timeout or plan.policy.timeout)
        allowed = overrides.max_attempts or plan.policy.max_attempts
        pending = deque(await self._ordered(plan))
        waiting: list[tuple[float, int, RouteTarget]] = []  # (when it frees, order, target)
        record = _Record(plan.name)
        previous: RouteTarget | None = None
        waits = 0
        while pending or (waiting and waits < _MAX_WAITS):
            if pending:
                target = pending.popleft()
            else:
                # Nothing else answered: wait for the target that frees first.
                waiting.sort(key=lambda entry: entry[:2])
                frees_at, _, target = waiting.pop(0)
                waits += 1
                await self.sleep(max(0.0, frees_at - self.clock()))
            if previous is not None and previous is not target:
                self.observer.fell_back(plan.name, previous.name)
            previous = target
            while True:
                if self.clock() >= deadline:
                    raise record.exhausted(out_of_time=True)
                position = _Position(record.on(target).attempts + 1, allowed, deadline, guard)
                try:
                    return await self._attempt(target, position, record, call), target, record.total
                except RouterError as error:
                    decision = self._decide(position, error)
                if decision.action is Action.RETRY:
                    await self.sleep(decision.wait)
                    continue
                if decision.action is Action.WAIT_FOR:
                    waiting.append((self.clock() + decision.wait, len(waiting), target))
                elif decision.action is Action.GIVE_UP:
                    raise decision.error or record.exhausted(out_of_time=True)
                break
        raise record.exhausted(out_of_time=self.clock() >= deadline)

    def _decide(self, position: _Position, error: RouterError, *, started: bool = False) -> Decision:
        end = AttemptEnd(
            error,
            attempt=position.attempt,
            allowed=position.allowed,
            now=self.clock(),
            deadline=position.deadline,
            guard=position.guard,
            started=started,
            jitter=self.rng.random(),
        )
        return decide(end, self.settings)

    async def _ordered(self, plan: RoutePlan) -> list[RouteTarget]:
        targets = await self.planner.capable(plan)
        if len(targets) < 2:  # one target needs no order, and a shared board would spend a round trip on it
            return targets
        statuses = await self.board.status([t.name for t in targets], [t.group for t in targets])
        return order_targets(targets, statuses, plan.policy.strategy, self.rng)

    async def _attempt(
        self,
        target: RouteTarget,
        position: _Position,
        record: _Record,
        call: Callable[[RouteTarget, _Lease, _Position], Awaitable[T]],
    ) -> T:
        """One attempt on `target`, recorded; a target that cannot be tried now is recorded as skipped."""
        if not target.provider.configured:
            env = target.provider.api_key_env
            error: RouterError = ProviderNotConfigured(
                f"The provider '{target.provider.name}' is not configured: set {env} (or api_key under "
                f"[providers.{target.provider.name}] in the config file) where the router runs, then restart it.",
                param="model",
            )
            record.skipped(target, error, f"its provider has no key ({env})")
            raise error
        if not await self.board.acquire(target.name, target.group, target.max_concurrent):
            why, error = await self._unavailable(target)
            record.skipped(target, error, why)
            raise error
        record.began(target)
        lease = _Lease(self.board, target, self.clock(), self.observer, self.clock)
        budget = position.deadline - lease.started
        if target.timeout is not None:
            budget = min(budget, target.timeout)
        try:
            try:
                with self._deadlines.within(max(budget, 0.0)):
                    return await call(target, lease, position)
            except TimeoutError:
                raise UpstreamTimeout(
                    f"{target.name} did not answer within {budget:.1f} s.", provider=target.provider.name
                ) from None
        except BaseException as error:
            await lease.fail(error)
            if isinstance(error, RouterError):
                record.failed(target, error)
            raise

    async def _unavailable(self, target: RouteTarget) -> tuple[str, TargetUnavailable]:
        """Why the board would not let `target` be tried now, in words and as the error."""
        (status,) = await self.board.status([target.name], [target.group])
        wait = status.available_in
        if wait > 0 and status.state is CircuitState.OPEN:
            why = (
                f"its circuit is open after {status.consecutive_failures} failures in a row, "
                f"and a probe may try it in {wait:.1f} s"
            )
        elif wait > 0 and target.group is not None:
            why = f"it shares a rate limit ({target.group}) that was hit, for another {wait:.1f} s"
        elif wait > 0:
            why = f"it is rate limited for another {wait:.1f} s"
        elif status.state is CircuitState.HALF_OPEN:
            why = "its circuit is half-open, and another request is probing it"
        elif target.max_concurrent is not None:
            why = f"it is at its limit of {target.max_concurrent} requests in flight"
        else:
            why = "the health board refused it a slot"
        error = TargetUnavailable(
            f"{target.name} was not tried: {why}.", provider=target.provider.name, retry_after=wait or None
        )
        return why, error
