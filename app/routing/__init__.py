"""Choosing where a request goes and running it there: plans, strategies, retries, fallback, health."""

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
