"""The application factory: one call builds the whole server from settings, with no import-time state."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import msgspec
from httpx_aiohttp import AiohttpTransport
from litestar import Litestar, Response, get
from litestar.datastructures import State

from app.access import KeyRing
from app.access.gate import ClientGate
from app.admin import reset_targets, target_health
from app.catalog import ModelCatalog, list_models, retrieve_model
from app.chat import create_chat_completion
from app.errors import exception_handlers
from app.lifecycle import Lifecycle, readiness, serving
from app.openapi import openapi_document
from app.registry import build_providers
from app.responses.handlers import create_response, delete_response, retrieve_response
from app.routing import Planner, Router
from app.services import Services
from app.settings import load_settings
from app.shared import SharedState
from app.telemetry import Metrics, Redactor, RequestObserver, RoutingTelemetry, configure_logging
from app.telemetry.logs import configured_secrets
from app.telemetry.metrics import metrics_endpoint

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.settings import Settings
    from providers.base import Provider

__all__ = ["app_from_environment", "create_app"]

_HEALTHY = msgspec.json.encode({"status": "ok"})


@get("/health", include_in_schema=False)
async def health() -> Response[bytes]:
    return Response(_HEALTHY, media_type="application/json")


def upstream_transport(settings: Settings) -> httpx.AsyncBaseTransport:
    """The one connection pool every provider shares, kept alive for the life of the worker.

    httpx's transport interface over aiohttp's pool. On the benchmark's canned upstream, httpx's own pool
    served about 1,000 requests per second with 32 in flight, and aiohttp's over ten times that.
    """
    limits = httpx.Limits(max_connections=settings.upstream_max_connections, keepalive_expiry=30)
    return AiohttpTransport(limits=limits)


def create_app(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    provider_classes: dict[str, type[Provider]] | None = None,
) -> Litestar:
    """Build the router. Tests inject the upstream `transport` (for example respx's) and `provider_classes`."""
    upstream = transport or upstream_transport(settings)
    providers = build_providers(settings, upstream, provider_classes)
    catalog = ModelCatalog(providers)
    planner = Planner(providers, catalog, settings)
    metrics = Metrics(redis=settings.redis_url is not None)
    shared = SharedState.from_settings(settings, on_redis_change=metrics.redis_available)
    services = Services(
        settings=settings,
        router=Router(planner, shared.board, settings.routing, observer=RoutingTelemetry(metrics)),
        planner=planner,
        catalog=catalog,
        board=shared.board,
        responses=shared.responses,
        keys=KeyRing.from_settings(settings.keys),
        limiter=shared.limiter,
        shared=shared,
        metrics=metrics,
        lifecycle=Lifecycle(),
        redactor=Redactor(configured_secrets(settings, providers)),
    )

    @asynccontextmanager
    async def close_upstream_transport(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await catalog.aclose()
            if transport is None:
                await upstream.aclose()

    app = Litestar(
        route_handlers=[
            create_chat_completion,
            list_models,
            retrieve_model,
            health,
            readiness,
            metrics_endpoint,
            openapi_document,
            target_health,
            reset_targets,
            create_response,
            retrieve_response,
            delete_response,
        ],
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        request_max_body_size=settings.max_request_bytes,
        state=State({"services": services}),
        # Exited in reverse order: requests drain before the upstream client closes.
        lifespan=[close_upstream_transport, serving],
        openapi_config=None,
        logging_config=None,
    )
    # Around everything litestar does, routing and its 404s included: every request is observed, and
    # authenticated when client keys are configured, before a handler runs.
    gate = ClientGate(app.asgi_handler, services.keys, services.limiter, services.redactor)
    app.asgi_handler = RequestObserver(gate, metrics, services.lifecycle)
    return app


def app_from_environment() -> Litestar:
    """The ASGI server's entry point in each worker: settings come from the environment and config file."""
    settings = load_settings()
    app = create_app(settings)
    services: Services = app.state.services
    configure_logging(settings.log_level, settings.log_format, services.redactor)
    # httpx logs every upstream request at INFO: noise on the hot path, and the request log says it better.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return app
