"""What a worker is made of: the domain objects `create_app` builds once per process and injects into handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.access import KeyRing, RateLimiter
    from app.agents.directory import AgentDirectory
    from app.catalog import ModelCatalog
    from app.lifecycle import Lifecycle
    from app.pipeline.answering import AnswerPipeline
    from app.responses.store import ResponseStore
    from app.routing import HealthBoard, Planner, Router
    from app.schemas import SchemaCompiler
    from app.settings import Settings
    from app.shared import SharedState
    from app.telemetry.logs import Redactor
    from app.telemetry.metrics import Metrics

__all__ = ["Services"]


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    schemas: SchemaCompiler
    router: Router
    pipeline: AnswerPipeline
    agents: AgentDirectory
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
