"""The routing decision table: what the router does when an attempt on a target ends in an error.

`decide` is a pure function of how the attempt ended (`AttemptEnd`: the error, the attempt's position on
its target, the attempts allowed, the time, the request's deadline, the tool-call guard, a jitter draw) and
the routing settings. Each row is one policy of the README's "Routing" section; the first that matches wins:

    the attempt ended with                            the router
    ------------------------------------------------  ---------------------------------------------------
    any error, the stream's first chunk already out   gives up with it: two models' output is never spliced
    an invalid request (the upstream's other 4xx)     gives up with it: no other target would take it
    any other error, the deadline passed              gives up with what was tried
    a target that cannot serve this request (404 for  tries the next target at once
      the model or its parameters, context too long,
      no such model, provider not configured)
    an invalid tool call, guard `retry`               retries here after a backoff, while attempts remain
    an invalid tool call, guard `fallback`            tries the next target
    the target was not tried (open circuit, rate      tries the next target now, and waits for this one if
      limited, a probe in flight, at max_concurrent)  nothing else answers, when it frees within
                                                      `retry_after_cap` and before the deadline
    a Retry-After over `retry_after_cap`              tries the next target
    429, while attempts remain and it frees before    tries the next target now, and this one again
      the deadline                                    after its Retry-After (`rate_limit_cooldown` when
                                                      it gave none) if nothing else answers
    5xx, connection error, timeout                    retries here after exponential backoff with jitter
                                                      (a Retry-After, when given, instead)
    a retry past the attempts allowed or the deadline tries the next target
    anything else (the router's key refused, no       tries the next target
      credit left)

`health_outcome` is the other half of the policy: what an attempt's failure tells the health board.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.routing.health import Outcome
from providers.errors import (
    InvalidToolCall,
    ModelNotFound,
    ProviderNotConfigured,
    TargetUnavailable,
    UpstreamCannotServe,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
)

if TYPE_CHECKING:
    from app.settings import RoutingSettings, ToolCallGuard
    from providers.errors import RouterError

__all__ = ["Action", "AttemptEnd", "Decision", "backoff", "decide", "health_outcome"]

# 2**60 times any backoff is past every cap; a larger exponent would only overflow the float.
_MAX_DOUBLINGS = 60


class Action(enum.Enum):
    RETRY = "retry"  # the same target again, after `wait`
    NEXT = "next"  # the next target now; this one is done for this request
    WAIT_FOR = "wait for"  # the next target now; this one again `wait` from now, if nothing else answered
    GIVE_UP = "give up"  # end the request with `error` (None: with what was tried)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    why: str
    wait: float = 0.0
    error: RouterError | None = None


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How an attempt on a target ended, and where its request stands."""

    error: RouterError
    attempt: int  # the attempt's position on its target, from 1 (not tried: the position it would have had)
    allowed: int  # attempts allowed per target
    now: float
    deadline: float
    guard: ToolCallGuard = "off"
    started: bool = False  # the stream's first chunk has gone to the client
    jitter: float = 0.0  # a draw from [0, 1), from the router's random source


def decide(end: AttemptEnd, settings: RoutingSettings) -> Decision:
    """What to do after an attempt that ended in `end.error` (see the table above)."""
    error = end.error
    if end.started:
        return Decision(Action.GIVE_UP, "the stream has started", error=error)
    if _request_at_fault(error):
        return Decision(Action.GIVE_UP, "the request is invalid", error=error)
    if end.now >= end.deadline:
        return Decision(Action.GIVE_UP, "the deadline passed")
    if isinstance(error, UpstreamCannotServe | ModelNotFound | ProviderNotConfigured):
        return Decision(Action.NEXT, "the target cannot serve this request")
    if isinstance(error, InvalidToolCall):
        if end.guard == "retry":
            return _retry(end, backoff(end.attempt, end.jitter, settings), "the tool call was invalid")
        return Decision(Action.NEXT, "the tool call was invalid")
    if isinstance(error, TargetUnavailable):
        wait = error.retry_after or settings.backoff_initial
        if wait > settings.retry_after_cap:
            return Decision(Action.NEXT, "the target was not tried, and frees after retry_after_cap")
        if end.now + wait >= end.deadline:
            return Decision(Action.NEXT, "the target was not tried, and frees after the deadline")
        return Decision(Action.WAIT_FOR, "the target was not tried, and frees soon", wait)
    if not error.retryable:
        return Decision(Action.NEXT, "another attempt here cannot help")
    if error.retry_after is not None and error.retry_after > settings.retry_after_cap:
        return Decision(Action.NEXT, "its Retry-After is over retry_after_cap")
    if isinstance(error, UpstreamRateLimited):
        wait = error.retry_after if error.retry_after is not None else settings.rate_limit_cooldown
        decision = _retry(end, wait, "rate limited")
        if decision.action is Action.RETRY:  # while another target may answer, waiting here would only stall
            return Decision(Action.WAIT_FOR, "rate limited", wait)
        return decision
    wait = error.retry_after if error.retry_after is not None else backoff(end.attempt, end.jitter, settings)
    return _retry(end, wait, "a transient failure")


def backoff(attempt: int, jitter: float, settings: RoutingSettings) -> float:
    """The wait after failed attempt number `attempt`: `backoff_initial` doubled per attempt, plus up to one
    `backoff_initial` of jitter (`jitter` is the draw, in [0, 1)), never over `backoff_max`."""
    exponential = settings.backoff_initial * 2.0 ** min(attempt - 1, _MAX_DOUBLINGS)
    return min(exponential + jitter * settings.backoff_initial, settings.backoff_max)


def health_outcome(error: BaseException) -> Outcome:
    """What a failed attempt tells the health board about its target."""
    if isinstance(error, UpstreamRateLimited):
        return Outcome.RATE_LIMITED
    if isinstance(error, ModelNotFound) or (
        isinstance(error, UpstreamCannotServe) and (error.http_status == 404 or error.code == "model_not_found")
    ):
        return Outcome.NOT_FOUND  # no such target: the board keeps nothing of it
    if isinstance(error, UpstreamError) and not isinstance(error, UpstreamRejected | InvalidToolCall):
        return Outcome.FAILURE
    return Outcome.NEUTRAL  # the request's fault, a model's bad tool call, or the client went away


def _request_at_fault(error: RouterError) -> bool:
    if isinstance(error, UpstreamRejected):
        return not isinstance(error, UpstreamCannotServe)
    # Besides upstream errors, a target can only be missing (no such model, no key for its provider); any
    # other error is the router refusing the request itself.
    return not isinstance(error, UpstreamError | ModelNotFound | ProviderNotConfigured)


def _retry(end: AttemptEnd, wait: float, why: str) -> Decision:
    if end.attempt >= end.allowed:
        return Decision(Action.NEXT, f"{why}, and no attempts are left on this target")
    if end.now + wait >= end.deadline:
        return Decision(Action.NEXT, f"{why}, and the wait would pass the deadline")
    return Decision(Action.RETRY, why, wait)
