"""The application factory: one call builds the whole server from settings, with no import-time state.

`create_app` is the composition root: it builds each domain object once per worker (providers, catalog,
planner, router, answer pipeline, shared state, keys, metrics), hands them to the HTTP handlers by
dependency injection, and wraps the app in the middleware that sees every request (telemetry, then the
client-key gate).
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide

from app.access import KeyRing
from app.access.admin import AdminGuard
from app.access.gate import ClientGate
from app.agents.definitions import COLLECTION as AGENTS
from app.agents.definitions import ModelNames
from app.agents.directory import AgentDirectory
from app.api.admin import reset_targets, target_health
from app.api.agents import create_agent, delete_agent, list_agents, replace_agent, retrieve_agent
from app.api.chat import ChatCompletions
from app.api.dashboard import (
    dashboard_config,
    dashboard_overview,
    dashboard_stream,
    invoke_tool_as_admin,
    list_aliases,
    list_models_for_playground,
    list_recent_requests,
    list_tool_invocations,
    list_toolsets_with_tools,
    playground_chat,
    recent_request,
)
from app.api.direct import DirectRoutes
from app.api.mcp import mcp_endpoint, mcp_no_session, mcp_no_stream
from app.api.messages import CreateMessage, count_message_tokens
from app.api.models import list_models, retrieve_model
from app.api.operations import health, metrics_endpoint, openapi_document, readiness
from app.api.responses import CreateResponse, delete_response, retrieve_response
from app.api.tools import invoke_tool, list_invocations, list_tools, retrieve_tool, tool_schema, watch_invocations
from app.api.toolsets import (
    create_toolset,
    delete_toolset,
    list_toolsets,
    refresh_toolset,
    replace_toolset,
    retrieve_toolset,
)
from app.catalog import ModelCatalog
from app.disconnect import CancelOnDisconnect
from app.errors import exception_handlers
from app.intake import RequestIntake
from app.lifecycle import Lifecycle, stopping_on_signals
from app.pipeline.answering import AnswerPipeline
from app.records import SqliteRecordStore, default_database
from app.registry import build_providers
from app.routing import Planner
from app.routing import Router as ModelRouter
from app.schemas import SchemaCompiler
from app.services import Services
from app.settings import load_settings
from app.shared import SharedState
from app.shared.recent import RedisRequestFeed
from app.shared.recent_files import SHARED_FOLDER, SharedFilesFeed
from app.shared.records import RedisRecordStore
from app.shared.toolsets import RedisInvocationLog
from app.telemetry import Metrics, Redactor, RequestObserver, RoutingTelemetry, configure_logging
from app.telemetry.logs import configured_secrets
from app.telemetry.metrics import MULTIPROCESS_ENV, ModelLabels
from app.telemetry.recent import LocalFeed, RecentRequests
from app.tools.egress import EgressClient
from app.tools.invocations import LocalInvocationLog
from app.tools.mcp_server import MCPServer
from app.tools.registry import ToolRegistry
from app.tools.store import COLLECTION as TOOLSETS
from app.ui.assets import dashboard_routes
from app.ui.live import LiveUpdates
from app.ui.views import RouterSetup
from providers.pool import SessionTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.records import RecordStore
    from app.settings import Settings
    from app.telemetry.recent import RequestFeed
    from providers.base import Provider

__all__ = ["app_from_environment", "create_app"]

log = logging.getLogger(__name__)


def upstream_transport(settings: Settings) -> SessionTransport:
    """The one connection pool every provider shares, kept alive for the life of the worker.

    httpx's transport interface over aiohttp's pool (`providers.pool`). The session keeps no cookies: what
    an upstream's answer sets (a CDN's bot-management cookie, say) is not for the next request, which is
    likely another client's, and a jar costs a lookup on every request and answer.
    """

    def session() -> aiohttp.ClientSession:
        # Made at the first request, inside the running loop, as aiohttp requires.
        connector = aiohttp.TCPConnector(
            limit=settings.upstream_max_connections, keepalive_timeout=30, ssl=httpx.create_ssl_context()
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)

    return SessionTransport(session)


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
    metrics = Metrics(redis=settings.redis_url is not None, labels=_model_labels(settings))
    shared = SharedState.from_settings(settings, on_redis_change=metrics.redis_available)
    schemas = SchemaCompiler(settings.schemas)
    # The dashboard is on with an admin key; off, no request spends anything on it.
    dashboard = settings.admin_key is not None
    recent = RecentRequests(
        settings.dashboard.history,
        log_content=settings.dashboard.log_content,
        content_bytes=settings.dashboard.content_bytes,
    )
    router = ModelRouter(
        planner,
        shared.board,
        settings.routing,
        observer=RoutingTelemetry(metrics, recent if dashboard else None),
        schemas=schemas,
    )
    redactor = Redactor(configured_secrets(settings, providers))
    tools = tool_registry(settings, shared, metrics, redactor, schemas)
    agents = AgentDirectory(
        settings.agents,
        names=ModelNames.of(settings, providers),
        store=record_store(settings, shared, AGENTS),
        sync_interval=settings.tools.sync_interval,
    )
    pipeline = AnswerPipeline(
        router,
        shared.limiter,
        timeout=settings.routing.timeout,
        agents=agents,
        registry=tools,
        memory=shared.turns,
    )
    services = Services(
        settings=settings,
        schemas=schemas,
        router=router,
        pipeline=pipeline,
        agents=agents,
        planner=planner,
        catalog=catalog,
        board=shared.board,
        responses=shared.responses,
        keys=KeyRing.from_settings(settings.keys),
        limiter=shared.limiter,
        shared=shared,
        metrics=metrics,
        lifecycle=Lifecycle(),
        redactor=redactor,
    )

    mcp = MCPServer(tools, allowed_origins=settings.tools.mcp_allowed_origins)
    feed = request_feed(settings, shared, recent)
    live = LiveUpdates(
        feed,
        shared.board,
        shared,
        tools.invocations,
        interval=settings.dashboard.update_interval,
        log_content=settings.dashboard.log_content,
    )
    services.lifecycle.on_stop(live.stop)  # an open dashboard must not hold the shutdown up
    setup = RouterSetup(settings, planner, agents, providers, redactor)

    @asynccontextmanager
    async def serving(_: Litestar) -> AsyncIterator[None]:
        """Connect shared state on start; when told to stop, end the endless streams at once; on shutdown,
        drain requests, then disconnect."""
        await shared.start()
        await tools.start()
        await agents.start()
        services.lifecycle.started = True
        try:
            with stopping_on_signals(services.lifecycle.stop):
                yield
        finally:
            services.lifecycle.stop()
            grace = settings.shutdown_timeout
            if left := await services.lifecycle.drain(grace):
                log.warning("shutting down with %d requests still in flight after %s s", left, grace)
            await agents.close()
            await tools.close()
            await tools.egress.aclose()
            await shared.close()
            metrics.process_ended()

    @asynccontextmanager
    async def dashboards(_: Litestar) -> AsyncIterator[None]:
        """Share this worker's recent requests while it serves."""
        if dashboard:
            await feed.start()
        try:
            yield
        finally:
            await live.close()
            if dashboard:
                await feed.close()

    @asynccontextmanager
    async def close_upstream(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await catalog.aclose()
            if transport is None:
                await upstream.aclose()

    chat = ChatCompletions(pipeline, schemas)
    admin_key = settings.admin_key
    app = Litestar(
        route_handlers=[
            retrieve_response,
            delete_response,
            count_message_tokens,
            list_models,
            retrieve_model,
            health,
            readiness,
            openapi_document,
            Router("/", route_handlers=[metrics_endpoint], guards=[AdminGuard(admin_key, loopback_open=True)]),
            Router(
                "/admin",
                route_handlers=[
                    target_health,
                    reset_targets,
                    dashboard_overview,
                    dashboard_stream,
                    list_recent_requests,
                    recent_request,
                    list_aliases,
                    list_models_for_playground,
                    dashboard_config,
                    list_toolsets_with_tools,
                    list_tool_invocations,
                    invoke_tool_as_admin,
                    playground_chat,
                ],
                guards=[AdminGuard(admin_key)],
            ),
            *dashboard_routes(admin_key),
            list_tools,
            list_invocations,
            watch_invocations,
            retrieve_tool,
            tool_schema,
            invoke_tool,
            mcp_endpoint,
            mcp_no_stream,
            mcp_no_session,
            Router(
                "/v1/toolsets",
                route_handlers=[
                    create_toolset,
                    list_toolsets,
                    retrieve_toolset,
                    replace_toolset,
                    delete_toolset,
                    refresh_toolset,
                ],
                guards=[AdminGuard(admin_key)],
            ),
            Router(
                "/v1/agents",
                route_handlers=[create_agent, list_agents, retrieve_agent, replace_agent, delete_agent],
                guards=[AdminGuard(admin_key)],
            ),
        ],
        dependencies=_dependencies(services)
        | _provided({"tools": tools, "mcp": mcp, "feed": feed, "live": live, "setup": setup, "chat": chat}),
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        request_max_body_size=settings.max_request_bytes,
        state=State({"services": services}),
        # Exited in reverse order: open dashboards end, then requests drain, then the upstream client closes.
        lifespan=[close_upstream, serving, dashboards],
        openapi_config=None,
        logging_config=None,
    )
    # Around everything litestar does, routing and its 404s included: every request is observed, and
    # authenticated when client keys are configured, before a handler runs.
    # Inside the gate, so a request without a valid key is refused before its body is read.
    # The model endpoints the router exists for are answered below the framework (`app.api.direct`).
    direct = DirectRoutes(
        app.asgi_handler,
        {
            "/v1/chat/completions": chat,
            "/v1/responses": CreateResponse(pipeline, shared.responses, tools, agents, schemas),
            "/v1/messages": CreateMessage(pipeline, schemas),
        },
        max_body=settings.max_request_bytes,
    )
    intake = RequestIntake(direct, settings)
    gate = ClientGate(intake, services.keys, services.limiter, services.redactor)
    app.asgi_handler = RequestObserver(
        CancelOnDisconnect(gate), metrics, services.lifecycle, recent if dashboard else None
    )
    return app


def _model_labels(settings: Settings) -> ModelLabels:
    """Metric labels for model names: the configured ones always, a bounded number of others."""
    configured = {settings.free.alias, *settings.free.fallback}
    for alias, table in settings.models.items():
        configured |= {alias, *(target.model for target in table.targets)}
    return ModelLabels(configured, settings.metrics_label_limit)


def _dependencies(services: Services) -> dict[str, Provide]:
    """What handlers may ask for by parameter name: the worker's domain objects, made once."""
    provided: dict[str, Any] = {
        "pipeline": services.pipeline,
        "responses": services.responses,
        "limiter": services.limiter,
        "catalog": services.catalog,
        "planner": services.planner,
        "agents": services.agents,
        "board": services.board,
        "lifecycle": services.lifecycle,
        "shared": services.shared,
        "metrics": services.metrics,
        "schemas": services.schemas,
    }
    return _provided(provided)


def _provided(provided: dict[str, Any]) -> dict[str, Provide]:
    return {name: Provide(_constant(value), use_cache=True, sync_to_thread=False) for name, value in provided.items()}


def tool_registry(
    settings: Settings, shared: SharedState, metrics: Metrics, redactor: Redactor, schemas: SchemaCompiler
) -> ToolRegistry:
    """The tool registry, its toolsets and invocations kept in Redis when configured, else in SQLite and the
    worker's memory."""
    tools = settings.tools
    invocations: Any
    if shared.redis is not None:
        invocations = RedisInvocationLog(shared.redis, tools.history)
    else:
        invocations = LocalInvocationLog(tools.history)
    return ToolRegistry(
        tools,
        store=record_store(settings, shared, TOOLSETS),
        invocations=invocations,
        limiter=shared.limiter,
        egress=EgressClient(allow_private_networks=tools.allow_private_networks),
        schemas=schemas,
        config_toolsets=settings.toolsets,
        observer=metrics,
        secrets=redactor.add,
    )


def record_store(settings: Settings, shared: SharedState, collection: str) -> RecordStore:
    """Where what the admin API registers is kept: Redis when configured, else the SQLite file."""
    if shared.redis is not None:
        return RedisRecordStore(shared.redis, collection)
    return SqliteRecordStore(settings.tools.database or default_database(), collection)


def request_feed(settings: Settings, shared: SharedState, recent: RecentRequests) -> RequestFeed:
    """Where the dashboard reads recent requests: Redis when configured; else, with several workers, the
    directory they share; else the worker's own."""
    dashboard = settings.dashboard
    if shared.redis is not None:
        return RedisRequestFeed(
            shared.redis, recent, history=dashboard.history, share_interval=dashboard.share_interval
        )
    workers_share = os.environ.get(MULTIPROCESS_ENV)
    if workers_share:
        return SharedFilesFeed(
            Path(workers_share) / SHARED_FOLDER,
            recent,
            history=dashboard.history,
            share_interval=dashboard.share_interval,
        )
    return LocalFeed(recent)


def _constant(value: object) -> Any:
    def provide() -> object:
        return value

    return provide


def app_from_environment() -> Litestar:
    """The ASGI server's entry point in each worker: settings come from the environment and config file."""
    settings = load_settings()
    app = create_app(settings)
    services: Services = app.state.services
    configure_logging(settings.log_level, settings.log_format, services.redactor)
    # httpx logs every upstream request at INFO: noise on the hot path, and the request log says it better.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return app
