"""What request handlers share: built once per process by `create_app`, reached through the app state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar import Request

    from app.access import KeyRing, RateLimiter
    from app.catalog import ModelCatalog
    from app.lifecycle import Lifecycle
    from app.responses.store import ResponseStore
    from app.routing import HealthBoard, Planner, Router
    from app.settings import Settings
    from app.shared import SharedState
    from app.telemetry.logs import Redactor
    from app.telemetry.metrics import Metrics

__all__ = ["Services", "services"]


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    router: Router
    planner: Planner
    catalog: ModelCatalog
    board: HealthBoard
    responses: ResponseStore
    keys: KeyRing
    limiter: RateLimiter
    shared: SharedState
    metrics: Metrics
    lifecycle: Lifecycle
    redactor: Redactor


def services(request: Request[Any, Any, Any]) -> Services:
    found: Services = request.app.state.services
    return found
