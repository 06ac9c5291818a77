"""What the router reports as it works, for whoever watches it (metrics, the request log).

The routing layer knows nothing of Prometheus or logging: `Router` calls a `RoutingObserver`, and
`app.telemetry` supplies one. Calls are synchronous and must be cheap: they happen on every attempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.routing.health import Outcome

__all__ = ["RoutingObserver", "Unobserved"]


class RoutingObserver(Protocol):
    def attempt_finished(
        self, target: str, outcome: Outcome, seconds: float, error: BaseException | None = None
    ) -> None:
        """One attempt on `target` ended; `seconds` to its answer (first chunk for a stream) or its failure,
        and the `error` it failed with."""

    def fell_back(self, model: str, target: str) -> None:
        """A request for `model` gave up on `target` and moves on to another target."""


class Unobserved:
    """The observer for a router nobody watches."""

    def attempt_finished(
        self, target: str, outcome: Outcome, seconds: float, error: BaseException | None = None
    ) -> None:
        pass

    def fell_back(self, model: str, target: str) -> None:
        pass
