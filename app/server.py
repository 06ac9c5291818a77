"""The application factory: one call builds the whole server from settings, with no import-time state."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import msgspec
from litestar import Litestar, Response, get
from litestar.datastructures import State

from app.admin import reset_targets, target_health
from app.catalog import ModelCatalog, list_models, retrieve_model
from app.chat import create_chat_completion
from app.errors import exception_handlers
from app.registry import build_providers
from app.responses.handlers import create_response, delete_response, retrieve_response
from app.responses.store import InMemoryResponseStore
from app.routing import LocalHealthBoard, Planner, Router
from app.services import Services
from app.settings import load_settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.settings import Settings
    from providers.base import Provider

__all__ = ["app_from_environment", "create_app"]

_HEALTHY = msgspec.json.encode({"status": "ok"})


@get("/health", include_in_schema=False)
async def health() -> Response[bytes]:
    return Response(_HEALTHY, media_type="application/json")


def create_app(
    settings: Settings,
    *,
    http_client: httpx.AsyncClient | None = None,
    provider_classes: dict[str, type[Provider]] | None = None,
) -> Litestar:
    """Build the router. Tests inject `http_client` (for example over respx) and `provider_classes`."""
    http = http_client or httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_connections,
            keepalive_expiry=30,
        ),
        timeout=httpx.Timeout(600, connect=10),
    )
    providers = build_providers(settings, http, provider_classes)
    catalog = ModelCatalog(providers)
    planner = Planner(providers, catalog, settings)
    routing = settings.routing
    board = LocalHealthBoard(
        failure_threshold=routing.failure_threshold,
        cooldown=routing.cooldown,
        rate_limit_cooldown=routing.rate_limit_cooldown,
    )
    services = Services(
        settings=settings,
        router=Router(planner, board, routing),
        planner=planner,
        catalog=catalog,
        board=board,
        responses=InMemoryResponseStore(
            max_entries=settings.responses.max_entries,
            max_bytes=settings.responses.max_bytes,
            ttl=settings.responses.ttl,
        ),
    )

    @asynccontextmanager
    async def upstream_client(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if http_client is None:
                await http.aclose()

    return Litestar(
        route_handlers=[
            create_chat_completion,
            list_models,
            retrieve_model,
            health,
            target_health,
            reset_targets,
            create_response,
            retrieve_response,
            delete_response,
        ],
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        request_max_body_size=settings.max_request_bytes,
        state=State({"services": services}),
        lifespan=[upstream_client],
        openapi_config=None,
        logging_config=None,
    )


def app_from_environment() -> Litestar:
    """The ASGI server's entry point in each worker: settings come from the environment and config file."""
    settings = load_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(settings)
