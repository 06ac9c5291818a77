"""Running a request: retries on a target, fallback across targets, one deadline over all of it.

For each target in the plan's order the router makes up to `max_attempts` attempts (tenacity: exponential
backoff with jitter, `Retry-After` honoured up to a cap), but only for failures that another try can fix
(429, 5xx, connection errors, timeouts). A target that cannot serve this request (a 404 for the model or
its parameters, a context too long), or that keeps failing, hands over to the next target; a request the
upstream judged invalid goes straight back to the client. A stream counts as answered once its first chunk
arrives: after that it is never retried or sent elsewhere, so two models' output is never spliced.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from app.routing.guard import InvalidToolCall, check_tool_calls
from app.routing.health import Outcome
from app.routing.observer import Unobserved
from app.routing.plan import order_targets
from providers.errors import (
    ModelNotFound,
    ProviderNotConfigured,
    RouterError,
    UpstreamCannotServe,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

    from app.routing.health import HealthBoard
    from app.routing.observer import RoutingObserver
    from app.routing.plan import Planner, RoutePlan, RouteTarget
    from app.settings import RoutingSettings
    from providers.request import ChatRequest
    from providers.schema import ChatCompletion, ChatCompletionChunk

__all__ = ["ChunkStream", "Overrides", "Routed", "Router", "TargetUnavailable"]

T = TypeVar("T")

# Passes over the targets: the first, then over those only briefly unavailable. The deadline ends them
# first in practice; this bound only guards against a clock that does not move.
_ROUNDS = 1000


@dataclass(frozen=True, slots=True)
class Overrides:
    """Per-request limits a client sets with headers."""

    timeout: float | None = None
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class Routed:
    """A complete answer and how it was obtained."""

    completion: ChatCompletion
    target: RouteTarget
    attempts: int


class TargetUnavailable(UpstreamUnavailable):
    """The router did not try a target: its circuit is open, it is rate limited, or it is at its limit."""

    default_code = "target_unavailable"


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

    async def end(self, outcome: Outcome, retry_after: float | None = None) -> None:
        if not self.ended:
            self.ended = True
            latency = self.latency if outcome is Outcome.SUCCESS else None
            seconds = self.latency if self.latency is not None else self.clock() - self.started
            self.observer.attempt_finished(self.target.name, outcome, seconds)
            await self.board.release(self.target.name, self.target.group, outcome, latency, retry_after)

    async def fail(self, error: BaseException) -> None:
        if isinstance(error, UpstreamRateLimited):
            await self.end(Outcome.RATE_LIMITED, error.retry_after)
        elif isinstance(error, ModelNotFound) or (
            isinstance(error, UpstreamCannotServe) and (error.http_status == 404 or error.code == "model_not_found")
        ):
            await self.end(Outcome.NOT_FOUND)  # no such target: the board keeps nothing of it
        elif isinstance(error, UpstreamError) and not isinstance(error, UpstreamRejected | InvalidToolCall):
            await self.end(Outcome.FAILURE)
        else:  # the request's fault, or the client went away: nothing learned about the target
            await self.end(Outcome.NEUTRAL)


class ChunkStream:
    """A stream whose first chunk has arrived: it can no longer fall back, and it holds its target's slot."""

    def __init__(
        self,
        target: RouteTarget,
        first: ChatCompletionChunk | None,
        rest: AsyncGenerator[ChatCompletionChunk, None],
        lease: _Lease,
        attempts: int = 1,
    ) -> None:
        self.target = target
        self.attempts = attempts
        self._first = first
        self._rest = rest
        self._lease = lease

    async def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        try:
            async for chunk in self._rest:
                yield chunk
        except BaseException as error:
            await self._lease.fail(error)
            raise

    async def aclose(self) -> None:
        """Stop the upstream request (a client that goes away must not keep it running)."""
        try:
            await self._rest.aclose()
        finally:
            await self._lease.end(Outcome.SUCCESS)


@dataclass
class _Failures:
    """What went wrong on each target tried, for the error the client gets when all of them failed."""

    items: list[tuple[RouteTarget, RouterError, int]] = field(default_factory=list)
    deadline_passed: bool = False


class Router:
    """Runs requests against the targets their plan names."""

    def __init__(
        self,
        planner: Planner,
        board: HealthBoard,
        settings: RoutingSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        observer: RoutingObserver | None = None,
    ) -> None:
        self.planner = planner
        self.board = board
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.observer: RoutingObserver = observer or Unobserved()
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial, max=settings.backoff_max, jitter=settings.backoff_initial
        )

    async def complete(self, request: ChatRequest, overrides: Overrides | None = None) -> Routed:
        plan, request = await self._plan(request)
        guard = plan.policy.tool_call_guard if request.params.tools else "off"

        async def call(target: RouteTarget, lease: _Lease) -> ChatCompletion:
            completion = await target.provider.complete(request, target.model)
            if guard != "off":
                check_tool_calls(request.params, completion, target.provider.name)
            lease.latency = self.clock() - lease.started
            await lease.end(Outcome.SUCCESS)
            return completion

        completion, target, attempts = await self._route(plan, request, overrides, call, retry_guard=guard == "retry")
        return Routed(completion, target, attempts)

    async def open_stream(self, request: ChatRequest, overrides: Overrides | None = None) -> ChunkStream:
        """Start a stream and wait for its first chunk: until then it may still be retried or fall back."""
        plan, request = await self._plan(request)

        async def call(target: RouteTarget, lease: _Lease) -> ChunkStream:
            chunks = target.provider.stream(request, target.model)
            try:
                first = await anext(chunks, None)
            except BaseException:
                await chunks.aclose()
                raise
            lease.latency = self.clock() - lease.started
            return ChunkStream(target, first, chunks, lease)

        stream, _, attempts = await self._route(plan, request, overrides, call, retry_guard=False)
        stream.attempts = attempts
        return stream

    async def _plan(self, request: ChatRequest) -> tuple[RoutePlan, ChatRequest]:
        plan = await self.planner.plan(request)
        # A fallback list the router follows is not the upstream's to follow again.
        return plan, request.without("models") if plan.follows_models else request

    async def _route(
        self,
        plan: RoutePlan,
        request: ChatRequest,
        overrides: Overrides | None,
        call: Callable[[RouteTarget, _Lease], Awaitable[T]],
        *,
        retry_guard: bool,
    ) -> tuple[T, RouteTarget, int]:
        overrides = overrides or Overrides()
        deadline = self.clock() + (overrides.timeout or plan.policy.timeout)
        max_attempts = overrides.max_attempts or plan.policy.max_attempts
        pending = targets = await self.planner.capable(plan, request)
        if len(targets) > 1:  # one target needs no order, and a shared board would spend a round trip on it
            statuses = await self.board.status([t.name for t in targets], [t.group for t in targets])
            pending = order_targets(targets, statuses, plan.policy.strategy, self.rng)
        failures = _Failures()
        total = 0
        given_up: RouteTarget | None = None
        for round_number in range(1, _ROUNDS + 1):
            waiting: list[tuple[RouteTarget, TargetUnavailable]] = []
            for target in pending:
                if self.clock() >= deadline:
                    failures.deadline_passed = True
                    break
                if given_up is not None and given_up is not target:
                    self.observer.fell_back(plan.name, given_up.name)
                given_up = target
                attempts = 0
                retrying = AsyncRetrying(
                    retry=retry_if_exception(lambda error: _worth_retrying(error, retry_guard)),
                    wait=self._wait,
                    stop=lambda state: self._stop(state, max_attempts, deadline),
                    reraise=True,
                )
                try:
                    async for attempt in retrying:
                        with attempt:
                            attempts += 1
                            result = await self._attempt(target, deadline, call)
                    return result, target, total + attempts
                except TargetUnavailable as error:
                    waiting.append((target, error))
                except (UpstreamCannotServe, InvalidToolCall) as error:
                    failures.items.append((target, error, attempts))
                except (UpstreamRejected, ModelNotFound):
                    raise  # the request itself is at fault: no other target would take it either
                except RouterError as error:
                    failures.items.append((target, error, attempts))
                    failures.deadline_passed = failures.deadline_passed or self.clock() >= deadline
                total += attempts
            # Targets only briefly unavailable (rate limited, cooling down, busy) are worth waiting for
            # when nothing else answered: the client should not see a blip that ends in a second.
            pause = min((error.retry_after or self.settings.backoff_initial for _, error in waiting), default=0.0)
            too_long = pause > self.settings.retry_after_cap or self.clock() + pause >= deadline
            if not waiting or round_number == _ROUNDS or too_long:
                failures.items += [(target, error, 0) for target, error in waiting]
                break
            await asyncio.sleep(pause)
            pending = [target for target, _ in waiting]
        raise _exhausted(plan, failures)

    async def _attempt(
        self, target: RouteTarget, deadline: float, call: Callable[[RouteTarget, _Lease], Awaitable[T]]
    ) -> T:
        if not target.provider.configured:
            env = target.provider.api_key_env
            raise ProviderNotConfigured(
                f"The provider '{target.provider.name}' is not configured: set {env} (or api_key under "
                f"[providers.{target.provider.name}] in the config file) where the router runs, then restart it.",
                param="model",
            )
        if not await self.board.acquire(target.name, target.group, target.max_concurrent):
            raise await self._unavailable(target)
        lease = _Lease(self.board, target, self.clock(), self.observer, self.clock)
        budget = deadline - lease.started
        if target.timeout is not None:
            budget = min(budget, target.timeout)
        try:
            try:
                async with asyncio.timeout(max(budget, 0.0)):
                    return await call(target, lease)
            except TimeoutError:
                raise UpstreamTimeout(
                    f"{target.name} did not answer within {budget:.1f} s.", provider=target.provider.name
                ) from None
        except BaseException as error:
            await lease.fail(error)
            raise

    async def _unavailable(self, target: RouteTarget) -> TargetUnavailable:
        (status,) = await self.board.status([target.name], [target.group])
        if status.available_in > 0:
            why = f"{status.state} circuit or rate limit, retry in {status.available_in:.1f} s"
        else:
            why = f"at its limit of {target.max_concurrent} requests in flight"
        return TargetUnavailable(
            f"{target.name} was not tried ({why}).",
            provider=target.provider.name,
            retry_after=status.available_in or None,
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, UpstreamRateLimited):
            # The same window the health board now keeps every request away for.
            return error.retry_after if error.retry_after is not None else self.settings.rate_limit_cooldown
        return float(self._backoff(state))

    def _stop(self, state: RetryCallState, max_attempts: int, deadline: float) -> bool:
        if state.attempt_number >= max_attempts:
            return True
        if self.clock() + state.upcoming_sleep >= deadline:
            return True
        # A long Retry-After is better spent on another target than waiting here.
        return state.upcoming_sleep > self.settings.retry_after_cap


def _worth_retrying(error: BaseException, retry_guard: bool) -> bool:
    if isinstance(error, InvalidToolCall):
        return retry_guard
    if isinstance(error, TargetUnavailable | UpstreamRejected):
        return False
    return isinstance(error, UpstreamError) and error.retryable


def _exhausted(plan: RoutePlan, failures: _Failures) -> RouterError:
    """The most meaningful error once every target has failed, naming what was tried."""
    items = failures.items
    if len(items) == 1 and not failures.deadline_passed:
        return items[0][1]
    tried = "; ".join(
        f"{target.name}: {error.message}" + (f" ({attempts} attempts)" if attempts > 1 else "")
        for target, error, attempts in items
    )
    message = f"No target of '{plan.name}' could answer. Tried: {tried or 'nothing (no time left)'}"
    errors = [error for _, error, _ in items]
    waits = [error.retry_after for error in errors if error.retry_after]
    if failures.deadline_passed:
        return UpstreamTimeout(message, provider=plan.name, code="deadline_exceeded")
    if errors and all(isinstance(error, UpstreamRateLimited) for error in errors):
        return UpstreamRateLimited(message, provider=plan.name, retry_after=min(waits, default=None))
    if errors and all(isinstance(error, UpstreamCannotServe) for error in errors):
        return UpstreamCannotServe(message, provider=plan.name, status=errors[0].http_status, code=errors[0].code)
    if any(isinstance(error, UpstreamUnavailable | UpstreamRateLimited | ProviderNotConfigured) for error in errors):
        return UpstreamUnavailable(message, provider=plan.name, retry_after=min(waits, default=None))
    return UpstreamError(message, provider=plan.name)
