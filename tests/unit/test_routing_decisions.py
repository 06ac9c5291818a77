"""The routing decision table, row by row: what the router does after each way an attempt can fail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from app.routing.decisions import Action, AttemptEnd, backoff, decide, health_outcome
from app.routing.health import Outcome
from app.settings import RoutingSettings
from providers.errors import (
    InvalidRequest,
    InvalidToolCall,
    ModelNotFound,
    ProviderNotConfigured,
    TargetUnavailable,
    UpstreamAuthFailed,
    UpstreamCannotServe,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamPaymentRequired,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from providers.errors import RouterError

SETTINGS = RoutingSettings(
    max_attempts=3, backoff_initial=0.2, backoff_max=5.0, retry_after_cap=10.0, rate_limit_cooldown=2.0
)
NOW = 100.0


def ended(error: RouterError, **facts: Any) -> AttemptEnd:
    values: dict[str, Any] = {"attempt": 1, "allowed": 3, "now": NOW, "deadline": NOW + 60} | facts
    return AttemptEnd(error, **values)


def rate_limited(retry_after: float | None = None) -> UpstreamRateLimited:
    return UpstreamRateLimited("429", provider="p", retry_after=retry_after)


def unavailable(retry_after: float | None = None) -> TargetUnavailable:
    return TargetUnavailable("not tried", provider="p", retry_after=retry_after)


# ------------------------------------------------------------------------------------- transient failures


def test_a_429_with_retry_after_moves_on_and_comes_back_after_it() -> None:
    decision = decide(ended(rate_limited(retry_after=3)), SETTINGS)

    assert (decision.action, decision.wait) == (Action.WAIT_FOR, 3)


def test_a_429_without_retry_after_comes_back_after_the_rate_limit_cooldown() -> None:
    decision = decide(ended(rate_limited()), SETTINGS)

    assert (decision.action, decision.wait) == (Action.WAIT_FOR, SETTINGS.rate_limit_cooldown)


def test_a_429_on_the_last_attempt_allowed_moves_on_for_good() -> None:
    decision = decide(ended(rate_limited(retry_after=3), attempt=3, allowed=3), SETTINGS)

    assert decision.action is Action.NEXT


@pytest.mark.parametrize(
    "error", [rate_limited(retry_after=11), UpstreamUnavailable("503", provider="p", retry_after=30)]
)
def test_a_retry_after_over_the_cap_moves_on(error: RouterError) -> None:
    assert decide(ended(error), SETTINGS).action is Action.NEXT


@pytest.mark.parametrize(
    "error",
    [
        UpstreamError("500", provider="p"),
        UpstreamUnavailable("503", provider="p"),
        UpstreamConnectionError("reset", provider="p"),
        UpstreamTimeout("slow", provider="p"),
    ],
)
def test_5xx_connection_errors_and_timeouts_are_retried_with_exponential_backoff(error: RouterError) -> None:
    waits = [decide(ended(error, attempt=n, allowed=9, jitter=0.5), SETTINGS) for n in (1, 2, 3)]

    assert [d.action for d in waits] == [Action.RETRY] * 3
    assert [d.wait for d in waits] == pytest.approx([0.2 + 0.1, 0.4 + 0.1, 0.8 + 0.1])


def test_backoff_jitter_comes_from_the_draw_and_the_backoff_is_capped() -> None:
    assert backoff(1, 0.0, SETTINGS) == pytest.approx(0.2)
    assert backoff(1, 0.999, SETTINGS) == pytest.approx(0.2 + 0.1998)
    assert backoff(10, 0.5, SETTINGS) == SETTINGS.backoff_max
    assert backoff(10_000, 0.5, SETTINGS) == SETTINGS.backoff_max  # no overflow, however many attempts


def test_a_transient_failure_on_the_last_attempt_moves_on() -> None:
    decision = decide(ended(UpstreamError("500", provider="p"), attempt=3, allowed=3), SETTINGS)

    assert decision.action is Action.NEXT


def test_a_retry_whose_wait_would_pass_the_deadline_moves_on() -> None:
    decision = decide(ended(rate_limited(retry_after=5), deadline=NOW + 4), SETTINGS)

    assert decision.action is Action.NEXT


# ------------------------------------------------------------------- targets that cannot serve, the client


@pytest.mark.parametrize(
    "error",
    [
        UpstreamCannotServe("no endpoints found that support tool use", provider="p", status=404),
        UpstreamCannotServe("context too long", provider="p", status=400, code="context_length_exceeded"),
        ModelNotFound("no such scenario"),
        ProviderNotConfigured("no key"),
    ],
)
def test_a_target_that_cannot_serve_the_request_is_passed_over_at_once(error: RouterError) -> None:
    decision = decide(ended(error, attempt=1, allowed=3), SETTINGS)

    assert (decision.action, decision.wait) == (Action.NEXT, 0.0)


@pytest.mark.parametrize(
    "error", [UpstreamRejected("bad temperature", provider="p", status=422), InvalidRequest("bad", param="x")]
)
def test_an_invalid_request_goes_straight_back_to_the_client(error: RouterError) -> None:
    decision = decide(ended(error), SETTINGS)

    assert decision.action is Action.GIVE_UP
    assert decision.error is error


@pytest.mark.parametrize(
    "error", [UpstreamAuthFailed("key refused", provider="p"), UpstreamPaymentRequired("no credit", provider="p")]
)
def test_a_failure_another_attempt_cannot_fix_moves_on(error: RouterError) -> None:
    assert decide(ended(error), SETTINGS).action is Action.NEXT


# ------------------------------------------------------------------------------------------ tool-call guard


def test_the_guard_retry_tries_the_same_target_again() -> None:
    bad = InvalidToolCall("bad arguments", provider="p")

    assert decide(ended(bad, guard="retry"), SETTINGS).action is Action.RETRY
    assert decide(ended(bad, guard="retry", attempt=3, allowed=3), SETTINGS).action is Action.NEXT


def test_the_guard_fallback_moves_on() -> None:
    decision = decide(ended(InvalidToolCall("bad arguments", provider="p"), guard="fallback"), SETTINGS)

    assert decision.action is Action.NEXT


# --------------------------------------------------------------------------------- targets not tried


def test_a_target_not_tried_that_frees_within_the_cap_is_waited_for() -> None:
    decision = decide(ended(unavailable(retry_after=4)), SETTINGS)

    assert (decision.action, decision.wait) == (Action.WAIT_FOR, 4)


def test_a_busy_target_is_checked_again_after_the_initial_backoff() -> None:
    decision = decide(ended(unavailable()), SETTINGS)  # at max_concurrent, or a probe in flight: no time known

    assert (decision.action, decision.wait) == (Action.WAIT_FOR, SETTINGS.backoff_initial)


@pytest.mark.parametrize(("retry_after", "deadline"), [(30.0, NOW + 60), (4.0, NOW + 3)])
def test_a_target_not_tried_that_frees_too_late_is_left(retry_after: float, deadline: float) -> None:
    decision = decide(ended(unavailable(retry_after=retry_after), deadline=deadline), SETTINGS)

    assert decision.action is Action.NEXT


# ---------------------------------------------------------------------------------- deadline, streams


@pytest.mark.parametrize(
    "error", [UpstreamTimeout("slow", provider="p"), UpstreamError("500", provider="p"), unavailable(1)]
)
def test_past_the_deadline_the_request_gives_up_with_what_was_tried(error: RouterError) -> None:
    decision = decide(ended(error, deadline=NOW), SETTINGS)

    assert decision.action is Action.GIVE_UP
    assert decision.error is None  # the router's summary of every target, not this one error


def test_an_invalid_request_past_the_deadline_is_still_the_clients_error() -> None:
    error = UpstreamRejected("bad", provider="p")

    assert decide(ended(error, deadline=NOW), SETTINGS).error is error


@pytest.mark.parametrize(
    "error", [UpstreamError("500", provider="p"), rate_limited(1), UpstreamCannotServe("x", provider="p")]
)
def test_a_stream_past_its_first_chunk_never_retries_or_falls_back(error: RouterError) -> None:
    decision = decide(ended(error, started=True), SETTINGS)

    assert decision.action is Action.GIVE_UP
    assert decision.error is error


# ------------------------------------------------------------------------------------------------- health


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (UpstreamError("500", provider="p"), Outcome.FAILURE),
        (UpstreamTimeout("slow", provider="p"), Outcome.FAILURE),
        (rate_limited(1), Outcome.RATE_LIMITED),
        (UpstreamRejected("bad", provider="p"), Outcome.NEUTRAL),
        (UpstreamCannotServe("context too long", provider="p", code="context_length_exceeded"), Outcome.NEUTRAL),
        (UpstreamCannotServe("no such model", provider="p", status=404), Outcome.NOT_FOUND),
        (InvalidToolCall("bad arguments", provider="p"), Outcome.NEUTRAL),
        (ModelNotFound("no such model"), Outcome.NOT_FOUND),
    ],
)
def test_only_failures_of_the_target_count_against_its_health(error: RouterError, outcome: Outcome) -> None:
    assert health_outcome(error) is outcome
