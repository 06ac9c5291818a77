"""What the dashboard's JSON shows, built from the router's own objects: the Overview, the aliases and agents,
the models a playground may name, and the effective configuration with every secret redacted.

These are plain functions of the objects `create_app` made; the endpoints (`app.api.dashboard`) and the
live updates (`app.ui.live`) both call them, so a script reading `/admin/overview` sees what the page does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.telemetry.logs import REDACTED
from app.telemetry.recent import summarise

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.agents.directory import AgentDirectory
    from app.catalog import ModelCatalog
    from app.routing import HealthBoard, Planner, TargetStatus
    from app.settings import Settings
    from app.shared import SharedState
    from app.telemetry.logs import Redactor
    from app.telemetry.recent import RequestFeed, TargetError
    from providers.base import Provider

__all__ = ["RouterSetup", "aliases", "effective_config", "models", "overview", "target_row"]

# Setting names whose values are credentials wherever they appear; `headers` values are credentials too.
_SECRET_NAMES = frozenset(("api_key", "admin_key", "redis_url", "sha256", "password", "token", "secret"))
_HEADERS = "headers"
_MASKED = "**********"  # how pydantic writes a `SecretStr` out


@dataclass(frozen=True, slots=True)
class RouterSetup:
    """How the router is set up, for the pages that show it: settings, routing, agents, providers."""

    settings: Settings
    planner: Planner
    agents: AgentDirectory
    providers: Mapping[str, Provider]
    redactor: Redactor


async def overview(feed: RequestFeed, board: HealthBoard, shared: SharedState) -> dict[str, Any]:
    """Traffic over the last minute and the last ten minutes, and every target's health with its last error.

    `in_flight` counts upstream attempts under way, as the health board does: every instance's with Redis.
    """
    now = time.time()
    figures = summarise(await feed.traffic(), now)
    statuses = await board.snapshot()
    errors = await feed.target_errors()
    return {
        "object": "dashboard.overview",
        "instance": feed.local.instance,
        **figures,
        "in_flight": sum(status.in_flight for status in statuses),
        "redis": None if shared.redis is None else ("up" if shared.redis.up else "down"),
        "targets": [target_row(status, errors.get(status.target)) for status in statuses],
    }


def target_row(status: TargetStatus, error: TargetError | None) -> dict[str, Any]:
    last_error = None if error is None else {"message": error.message, "code": error.code, "at": error.at}
    return status.as_json() | {"last_error": last_error}


def aliases(settings: Settings, planner: Planner, agents: AgentDirectory) -> dict[str, Any]:
    """Every alias with its strategy, policy and targets; the free-models alias; and the agents."""
    routing = settings.routing
    listed: list[dict[str, Any]] = []
    for name, alias in settings.models.items():
        listed.append(
            {
                "name": name,
                "strategy": alias.strategy,
                "max_attempts": alias.max_attempts or routing.max_attempts,
                "timeout": alias.timeout or routing.timeout,
                "tool_call_guard": alias.tool_call_guard,
                "targets": [
                    {
                        "model": target.model,
                        "weight": target.weight,
                        "max_concurrent": target.max_concurrent,
                        "timeout": target.timeout,
                    }
                    for target in alias.targets
                ],
            }
        )
    free = settings.free
    if free.enabled and free.alias in planner.aliases():
        listed.append(
            {
                "name": free.alias,
                "strategy": "free",
                "max_attempts": routing.max_attempts,
                "timeout": routing.timeout,
                "tool_call_guard": free.tool_call_guard,
                "description": f"up to {free.max_models} of {free.provider}'s free models that can serve the request, "
                "then the fallback list",
                "targets": [
                    {"model": model, "weight": 1.0, "max_concurrent": None, "timeout": None} for model in free.fallback
                ],
            }
        )
    shown_agents: list[dict[str, Any]] = []
    for name in agents.names():
        agent = agents.get(name)
        if agent is None:
            continue
        shown_agents.append(
            {
                "name": name,
                "model": agent.settings.model,
                "tools": list(agent.settings.tools),
                "description": agent.settings.description,
                "max_rounds": agent.settings.max_rounds,
                "parallel_tool_calls": agent.settings.parallel_tool_calls,
            }
        )
    return {"object": "list", "data": listed, "agents": shown_agents}


async def models(catalog: ModelCatalog, planner: Planner, agents: AgentDirectory) -> dict[str, Any]:
    """What the playground may name: aliases, agents, then every configured provider's models."""
    alias_names = set(planner.aliases())
    agent_names = set(agents.names())
    listed = await catalog.models([*planner.aliases(), *agents.names()])
    data = [
        {
            "id": model.id,
            "kind": "agent" if model.id in agent_names else "alias" if model.id in alias_names else "model",
            "owned_by": model.owned_by,
        }
        for model in listed
    ]
    return {"object": "list", "data": data}


def effective_config(settings: Settings, providers: Mapping[str, Provider], redactor: Redactor) -> dict[str, Any]:
    """The settings in force (environment, file and defaults together), each provider's as its adapter read
    them, with every credential replaced by `[redacted]` (an unset one stays null, so it reads as unset)."""
    shown: dict[str, Any] = settings.model_dump(mode="json")
    shown["providers"] = {
        name: {"configured": provider.configured, **provider.settings.model_dump(mode="json")}
        for name, provider in sorted(providers.items())
    }
    redacted: dict[str, Any] = _redact(shown, redactor)
    return redacted


def _redact(value: Any, redactor: Redactor, name: str = "") -> Any:
    if isinstance(value, dict):
        if name == _HEADERS:
            return dict.fromkeys(value, REDACTED)
        return {key: _redact(item, redactor, key) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, redactor, name) for item in value]
    if (name in _SECRET_NAMES and value is not None) or value == _MASKED:
        return REDACTED
    if isinstance(value, str):
        # A second line of defence: any secret the router knows of, wherever it hides.
        return redactor.redact(value)
    return value
