"""What request handlers share: built once per process by `create_app`, reached through the app state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar import Request

    from app.catalog import ModelCatalog
    from app.responses.store import ResponseStore
    from app.routing import HealthBoard, Planner, Router
    from app.settings import Settings

__all__ = ["Services", "services"]


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    router: Router
    planner: Planner
    catalog: ModelCatalog
    board: HealthBoard
    responses: ResponseStore


def services(request: Request[Any, Any, Any]) -> Services:
    found: Services = request.app.state.services
    return found
