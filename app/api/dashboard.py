"""The JSON endpoints behind the dashboard (`/ui`), for scripts too. All sit under `/admin`, behind the admin key.

    GET  /admin/overview                    traffic over the last minute and ten minutes, targets' health
    GET  /admin/stream                      the dashboard's one stream of updates (server-sent events)
    GET  /admin/requests?limit&model&key&target&status    recent requests, newest first
    GET  /admin/requests/{id}               one of them, with its bodies when content logging is on
    GET  /admin/aliases                     every alias with its strategy and targets; the agents
    GET  /admin/models                      what the playground may name: aliases, agents, models
    GET  /admin/config                      the effective configuration, every secret redacted
    GET  /admin/tools                       the registry's toolsets with their tools and schemas
    GET  /admin/tools/invocations?tool&limit  the latest tool invocations
    POST /admin/tools/{name}/invoke         invoke a tool, as `POST /v1/tools/{name}/invoke` does
    POST /admin/chat/completions            the playground's chat: `POST /v1/chat/completions` for the admin

(`GET /admin/targets` and `POST /admin/targets/reset` are `app.api.admin`'s.) The admin reaches every
model and tool, whatever the client keys allow; its requests are recorded like any other.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from app.agents.directory import AgentDirectory
from app.api.chat import ChatCompletions
from app.api.direct import Headers, framework_response
from app.api.inject import Injected
from app.api.routed import request_overrides
from app.catalog import ModelCatalog
from app.context import current
from app.routing import Planner
from app.telemetry.recent import RequestFeed
from app.tools.registry import ToolRegistry
from app.ui import views
from app.ui.live import LiveUpdates, without_content
from app.ui.views import RouterSetup
from providers.errors import InvalidRequest, NotFound, RouterError
from providers.request import decode_json

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.telemetry.recent import RequestRecord

__all__ = [
    "dashboard_config",
    "dashboard_overview",
    "dashboard_stream",
    "invoke_tool_as_admin",
    "list_aliases",
    "list_models_for_playground",
    "list_recent_requests",
    "list_tool_invocations",
    "list_toolsets_with_tools",
    "playground_chat",
    "recent_request",
]

_encoder = msgspec.json.Encoder()
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_STATUS_CLASSES = {"2xx": (200, 300), "3xx": (300, 400), "4xx": (400, 500), "5xx": (500, 600), "error": (400, 600)}
_MAX_LIMIT = 1000


class _Invoke(msgspec.Struct, forbid_unknown_fields=True):
    arguments: Any = msgspec.field(default_factory=dict)


_invoke_decoder = msgspec.json.Decoder(_Invoke)


@get("/overview")
async def dashboard_overview(live: Injected[LiveUpdates]) -> Response[bytes]:
    return _json(await live.overview())


@get("/stream")
async def dashboard_stream(live: Injected[LiveUpdates]) -> Stream:
    if live.closed:
        raise RouterError("The router is shutting down.", status=503, code="shutting_down")

    async def updates() -> AsyncIterator[bytes]:
        async with live.watch() as viewer:
            while (update := await viewer.get()) is not None:
                yield update

    return Stream(updates(), media_type="text/event-stream", headers=_SSE_HEADERS)


@get("/requests")
async def list_recent_requests(
    feed: Injected[RequestFeed],
    limit: FromQuery[int] = 100,
    model: FromQuery[str | None] = None,
    key: FromQuery[str | None] = None,
    target: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
) -> Response[bytes]:
    if not 1 <= limit <= _MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be from 1 to {_MAX_LIMIT}.", param="limit", code="invalid_value")
    wanted = _status_filter(status)
    found: list[RequestRecord] = []
    for record in await feed.latest(feed.local.records.maxlen or _MAX_LIMIT):
        if (
            (model is None or record.model == model)
            and (key is None or record.key == key)
            and (target is None or record.target == target)
            and wanted[0] <= record.status < wanted[1]
        ):
            found.append(record)
            if len(found) >= limit:
                break
    return _json({"object": "list", "data": without_content(found)})


@get("/requests/{request_id:str}")
async def recent_request(request_id: FromPath[str], feed: Injected[RequestFeed]) -> Response[bytes]:
    for record in await feed.latest(feed.local.records.maxlen or _MAX_LIMIT):
        if record.id == request_id:
            return _json(record)
    raise NotFound(f"No recent request has the id '{request_id}'.", param="request_id", code="request_not_found")


@get("/aliases")
async def list_aliases(setup: Injected[RouterSetup]) -> Response[bytes]:
    return _json(views.aliases(setup.settings, setup.planner, setup.agents))


@get("/models")
async def list_models_for_playground(
    catalog: Injected[ModelCatalog], planner: Injected[Planner], agents: Injected[AgentDirectory]
) -> Response[bytes]:
    return _json(await views.models(catalog, planner, agents))


@get("/config")
async def dashboard_config(setup: Injected[RouterSetup]) -> Response[bytes]:
    return _json(views.effective_config(setup.settings, setup.providers, setup.redactor))


@get("/tools")
async def list_toolsets_with_tools(tools: Injected[ToolRegistry]) -> Response[bytes]:
    return _json({"object": "list", "data": [toolset.describe() for toolset in tools.toolsets()]})


@get("/tools/invocations")
async def list_tool_invocations(
    tools: Injected[ToolRegistry], tool: FromQuery[str | None] = None, limit: FromQuery[int] = 100
) -> Response[bytes]:
    if not 1 <= limit <= _MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be from 1 to {_MAX_LIMIT}.", param="limit", code="invalid_value")
    found = await tools.invocations.recent(tool=tool, limit=limit)
    return _json({"object": "list", "data": found})


@post("/tools/{name:str}/invoke", status_code=200)
async def invoke_tool_as_admin(
    request: Request[Any, Any, Any], name: FromPath[str], tools: Injected[ToolRegistry]
) -> Response[bytes]:
    body = await request.body()
    call = decode_json(_invoke_decoder, body) if body.strip() else _Invoke()
    overrides = request_overrides(request.headers)
    deadline = None
    if overrides is not None and overrides.timeout is not None:
        deadline = time.monotonic() + overrides.timeout
    result = await tools.invoke(
        name, call.arguments, request_id=current().request_id, deadline=deadline, source="dashboard"
    )
    return Response(result.encode(), media_type="application/json")


@post("/chat/completions", status_code=200)
async def playground_chat(request: Request[Any, Any, Any], chat: Injected[ChatCompletions]) -> Response[bytes] | Stream:
    reply = await chat(Headers(request.scope["headers"]), await request.body())
    return framework_response(reply)


def _status_filter(status: str | None) -> tuple[int, int]:
    if status is None:
        return (0, 1000)
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status.isdigit() and len(status) == 3:
        return (int(status), int(status) + 1)
    raise InvalidRequest(
        "`status` must be a status code (429) or one of 2xx, 3xx, 4xx, 5xx and error.",
        param="status",
        code="invalid_value",
    )


def _json(payload: Any) -> Response[bytes]:
    return Response(_encoder.encode(payload), media_type="application/json")
