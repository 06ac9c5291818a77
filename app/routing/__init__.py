"""Choosing where a request goes and running it there: plans, strategies, retries, fallback, health.

    plan        from a model name to the targets to try (aliases, fallback lists, free models, strategies)
    decisions   the decision table: what to do when an attempt fails
    router      the loop that carries the decisions out, on an injected clock
    health      circuit breakers, rate-limit cooldowns, requests in flight, latency
    guard       the tool-call guard
    observer    what the router reports as it works

`TargetUnavailable` and `InvalidToolCall` live in `providers.errors` with every other error; they are
exported here too, for callers that knew them from this package.
"""

from __future__ import annotations

from app.routing.health import CircuitState, HealthBoard, LocalHealthBoard, Outcome, TargetStatus
from app.routing.observer import RoutingObserver, Unobserved
from app.routing.plan import Planner, Policy, RoutePlan, RouteTarget
from app.routing.router import ChunkStream, Overrides, Routed, Router
from providers.errors import InvalidToolCall, TargetUnavailable

__all__ = [
    "ChunkStream",
    "CircuitState",
    "HealthBoard",
    "InvalidToolCall",
    "LocalHealthBoard",
    "Outcome",
    "Overrides",
    "Planner",
    "Policy",
    "RoutePlan",
    "RouteTarget",
    "Routed",
    "Router",
    "RoutingObserver",
    "TargetStatus",
    "TargetUnavailable",
    "Unobserved",
]
