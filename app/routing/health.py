"""Per-target health: circuit breakers, rate-limit cooldowns, requests in flight and recent latency.

The router asks the board before each attempt (`acquire`) and tells it the outcome after (`release`). A
target's circuit opens after `failure_threshold` consecutive failures; after `cooldown` seconds one probe
request may go through (half-open), and its success closes the circuit again. A rate-limited target (or
group of targets sharing one quota, such as OpenRouter's free models) is left alone until its
`Retry-After` has passed. Only failures that say something about the target count: a request the
upstream rejected as invalid, or one it cannot serve, leaves the circuit alone.

The board holds only targets that exist, and a bounded number of them, since clients can name any model: a
target whose attempt found no such model is forgotten (unless it has answered before, or other attempts on
it are still running), and past `max_targets` the least recently tried idle targets are forgotten.

The interface is asynchronous so that a board shared through Redis can stand in for this in-process one.
"""

from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["CircuitState", "HealthBoard", "LocalHealthBoard", "Outcome", "TargetStatus"]

_EWMA_ALPHA = 0.3


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"  # the target failed: counts towards opening its circuit
    RATE_LIMITED = "rate_limited"
    NEUTRAL = "neutral"  # says nothing about the target (the request was invalid, or not for it)
    NOT_FOUND = "not_found"  # the target does not exist (no such model): nothing is kept of it


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """What the board knows of one target, as strategies and the admin endpoint read it."""

    target: str
    state: CircuitState
    in_flight: int
    latency: float | None  # seconds, EWMA of successful attempts (to the first chunk for streams)
    success_rate: float  # EWMA of attempt outcomes, 1.0 when nothing is known
    consecutive_failures: int
    available_in: float  # seconds until the target may be tried again (0 when it may be now)
    attempts: int
    failures: int

    def as_json(self) -> dict[str, Any]:
        """The target as `/admin/targets` and the dashboard show it (milliseconds and seconds, rounded)."""
        return {
            "target": self.target,
            "state": str(self.state),
            "in_flight": self.in_flight,
            "latency_ms": round(self.latency * 1000, 1) if self.latency is not None else None,
            "success_rate": round(self.success_rate, 3),
            "consecutive_failures": self.consecutive_failures,
            "available_in_s": round(self.available_in, 1),
            "attempts": self.attempts,
            "failures": self.failures,
        }


class HealthBoard(Protocol):
    async def status(self, targets: Sequence[str], groups: Sequence[str | None]) -> list[TargetStatus]: ...

    async def acquire(self, target: str, group: str | None, max_concurrent: int | None) -> bool:
        """Reserve a slot for one attempt; False when the target must not be tried now."""

    async def release(
        self,
        target: str,
        group: str | None,
        outcome: Outcome,
        latency: float | None,
        retry_after: float | None,
    ) -> None: ...

    async def snapshot(self) -> list[TargetStatus]: ...

    async def reset(self, target: str | None = None) -> None: ...


@dataclass(slots=True)
class _Health:
    state: CircuitState = CircuitState.CLOSED
    consecutive_failures: int = 0
    open_until: float = 0.0
    probing: bool = False
    in_flight: int = 0
    latency: float | None = None
    success_rate: float = 1.0
    rate_limited_until: float = 0.0
    attempts: int = 0
    failures: int = 0


class LocalHealthBoard:
    """The in-process board: right for one worker; several workers or instances share one through Redis."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        cooldown: float,
        rate_limit_cooldown: float,
        max_targets: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.rate_limit_cooldown = rate_limit_cooldown
        self.max_targets = max_targets
        self._clock = clock
        self._targets: dict[str, _Health] = {}  # least recently tried first
        self._groups: dict[str, float] = {}  # group -> rate limited until

    async def status(self, targets: Sequence[str], groups: Sequence[str | None]) -> list[TargetStatus]:
        now = self._clock()
        return [self._status(target, group, now) for target, group in zip(targets, groups, strict=True)]

    async def acquire(self, target: str, group: str | None, max_concurrent: int | None) -> bool:
        now = self._clock()
        health = self._targets.get(target) or _Health()
        if self._available_in(health, group, now) > 0:
            return False
        if max_concurrent is not None and health.in_flight >= max_concurrent:
            return False
        self._targets.pop(target, None)
        self._remember(target, health)
        if health.state is CircuitState.OPEN:
            # The cooldown is over: this attempt is the one probe a half-open circuit lets through.
            health.state, health.probing = CircuitState.HALF_OPEN, True
        elif health.state is CircuitState.HALF_OPEN:
            if health.probing:
                return False
            health.probing = True
        health.in_flight += 1
        health.attempts += 1
        return True

    async def release(
        self,
        target: str,
        group: str | None,
        outcome: Outcome,
        latency: float | None,
        retry_after: float | None,
    ) -> None:
        now = self._clock()
        health = self._targets.get(target)
        if health is None:  # forgotten (reset) while the attempt ran: what it taught still counts
            if outcome is Outcome.NOT_FOUND:
                return
            health = self._remember(target, _Health())
        health.in_flight = max(0, health.in_flight - 1)
        probe, health.probing = health.probing, False
        if outcome is Outcome.SUCCESS:
            health.state, health.consecutive_failures = CircuitState.CLOSED, 0
            health.success_rate = _ewma(health.success_rate, 1.0)
            if latency is not None:
                health.latency = latency if health.latency is None else _ewma(health.latency, latency)
        elif outcome is Outcome.FAILURE:
            health.failures += 1
            health.consecutive_failures += 1
            health.success_rate = _ewma(health.success_rate, 0.0)
            if probe or health.consecutive_failures >= self.failure_threshold:
                health.state, health.open_until = CircuitState.OPEN, now + self.cooldown
        elif outcome is Outcome.RATE_LIMITED:
            health.failures += 1
            health.success_rate = _ewma(health.success_rate, 0.0)
            until = now + (retry_after if retry_after is not None else self.rate_limit_cooldown)
            health.rate_limited_until = max(health.rate_limited_until, until)
            if group is not None:
                self._groups[group] = max(self._groups.get(group, 0.0), until)
            if probe:
                health.state = CircuitState.OPEN
        elif outcome is Outcome.NOT_FOUND and health.in_flight == 0 and health.latency is None:
            # No such model. One that has answered before (latency known) exists: OpenRouter also says 404
            # when none of a model's endpoints supports the request, and its history is worth keeping.
            del self._targets[target]
        elif probe:
            health.state = CircuitState.OPEN  # the probe told us nothing; let the next one try

    async def snapshot(self) -> list[TargetStatus]:
        now = self._clock()
        return [self._status(target, None, now) for target in sorted(self._targets)]

    async def reset(self, target: str | None = None) -> None:
        if target is None:
            self._targets.clear()
            self._groups.clear()
        else:
            self._targets.pop(target, None)

    def _remember(self, target: str, health: _Health) -> _Health:
        """Put a target last (most recently tried), forgetting the least recently tried idle ones past the bound."""
        self._targets[target] = health
        excess = len(self._targets) - self.max_targets
        if excess > 0:
            # Oldest first, and only idle ones: an attempt in flight must find its target's count on release.
            idle = (name for name, each in self._targets.items() if each.in_flight == 0 and each is not health)
            for name in list(itertools.islice(idle, excess)):
                del self._targets[name]
        return health

    def _status(self, target: str, group: str | None, now: float) -> TargetStatus:
        health = self._targets.get(target) or _Health()
        return TargetStatus(
            target=target,
            state=health.state,
            in_flight=health.in_flight,
            latency=health.latency,
            success_rate=health.success_rate,
            consecutive_failures=health.consecutive_failures,
            available_in=self._available_in(health, group, now),
            attempts=health.attempts,
            failures=health.failures,
        )

    def _available_in(self, health: _Health, group: str | None, now: float) -> float:
        until = health.rate_limited_until
        if health.state is CircuitState.OPEN:
            until = max(until, health.open_until)
        if group is not None:
            until = max(until, self._groups.get(group, 0.0))
        return max(0.0, until - now)


def _ewma(previous: float, sample: float) -> float:
    return previous + _EWMA_ALPHA * (sample - previous)
