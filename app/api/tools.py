"""The client side of the tool registry: list tools, fetch their OpenAI definitions, invoke them, and
watch invocations (a bounded history, and a live stream of server-sent events).

    GET  /v1/tools                          {"object": "list", "data": [tool, ...]}
    GET  /v1/tools/{name}                   one tool
    GET  /v1/tools/{name}/schema            its OpenAI tool definition, ready for a request's `tools`
    POST /v1/tools/{name}/invoke            {"arguments": {...}} -> {"object": "tool.invocation", ...}
    GET  /v1/tools/invocations?tool=&limit= the latest invocations, newest first
    GET  /v1/tools/invocations/stream       each new invocation as it happens

With client keys configured, a key sees, invokes and watches only the tools its `tools` patterns allow.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from app.access.gate import admit
from app.access.limits import RateLimiter
from app.api.inject import Injected
from app.api.routed import request_overrides
from app.context import current
from app.lifecycle import Lifecycle
from app.tools.registry import ToolRegistry
from providers.errors import InvalidRequest
from providers.request import decode_json

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.access.keys import ClientKey
    from app.tools.invocations import Invocation

__all__ = ["invoke_tool", "list_invocations", "list_tools", "retrieve_tool", "tool_schema", "watch_invocations"]

_encoder = msgspec.json.Encoder()
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_KEEP_ALIVE = 15.0
_MAX_LIMIT = 1000


class _Invoke(msgspec.Struct, forbid_unknown_fields=True):
    arguments: Any = msgspec.field(default_factory=dict)


_invoke_decoder = msgspec.json.Decoder(_Invoke)


@get("/v1/tools")
async def list_tools(tools: Injected[ToolRegistry], limiter: Injected[RateLimiter]) -> Response[bytes]:
    await admit(limiter)
    listed = [tool.describe() for tool in tools.tools(visible_to=current().client)]
    return _json({"object": "list", "data": listed})


@get("/v1/tools/invocations")
async def list_invocations(
    tools: Injected[ToolRegistry],
    limiter: Injected[RateLimiter],
    tool: FromQuery[str | None] = None,
    limit: FromQuery[int] = 100,
) -> Response[bytes]:
    await admit(limiter)
    if not 1 <= limit <= _MAX_LIMIT:
        raise InvalidRequest(f"`limit` must be from 1 to {_MAX_LIMIT}.", param="limit", code="invalid_value")
    key = current().client
    # A key's own tools only: fetch more than asked when some of the history is not its to see.
    found = await tools.invocations.recent(tool=tool, limit=limit if key is None else _MAX_LIMIT)
    visible = [invocation for invocation in found if _visible(invocation, key)][:limit]
    return _json({"object": "list", "data": [msgspec.to_builtins(invocation) for invocation in visible]})


@get("/v1/tools/invocations/stream")
async def watch_invocations(
    tools: Injected[ToolRegistry], limiter: Injected[RateLimiter], lifecycle: Injected[Lifecycle]
) -> Stream:
    await admit(limiter)
    key = current().client

    async def events() -> AsyncIterator[bytes]:
        # The opening comment lets a client know the stream is live before the first invocation.
        yield b": watching tool invocations\n\n"
        stopping = asyncio.ensure_future(lifecycle.stopping.wait())
        arrived: asyncio.Future[Invocation] | None = None
        try:
            async with tools.invocations.subscribe() as subscription:
                while not stopping.done():  # the worker is told to stop: end, so as not to hold it up
                    if arrived is None:
                        arrived = asyncio.ensure_future(subscription.get())
                    await asyncio.wait((arrived, stopping), timeout=_KEEP_ALIVE, return_when=asyncio.FIRST_COMPLETED)
                    if not arrived.done():
                        if not stopping.done():
                            yield b": keep-alive\n\n"
                        continue
                    invocation, arrived = arrived.result(), None
                    if _visible(invocation, key):
                        yield b"data: " + _encoder.encode(invocation) + b"\n\n"
        finally:
            # However the stream ends (the client left, the worker stops), nothing is left waiting.
            stopping.cancel()
            if arrived is not None:
                arrived.cancel()

    return Stream(events(), media_type="text/event-stream", headers=_SSE_HEADERS)


@get("/v1/tools/{name:str}")
async def retrieve_tool(
    name: FromPath[str], tools: Injected[ToolRegistry], limiter: Injected[RateLimiter]
) -> Response[bytes]:
    await admit(limiter)
    return _json(tools.resolve(name, visible_to=current().client).describe())


@get("/v1/tools/{name:str}/schema")
async def tool_schema(
    name: FromPath[str], tools: Injected[ToolRegistry], limiter: Injected[RateLimiter]
) -> Response[bytes]:
    await admit(limiter)
    return _json(tools.definition(name, visible_to=current().client))


@post("/v1/tools/{name:str}/invoke", status_code=200)
async def invoke_tool(
    request: Request[Any, Any, Any], name: FromPath[str], tools: Injected[ToolRegistry], limiter: Injected[RateLimiter]
) -> Response[bytes]:
    await admit(limiter)
    body = await request.body()
    call = decode_json(_invoke_decoder, body) if body.strip() else _Invoke()
    context = current()
    overrides = request_overrides(request.headers)
    deadline = None
    if overrides is not None and overrides.timeout is not None:
        deadline = time.monotonic() + overrides.timeout  # `x-llm-router-timeout`: the whole call, retries included
    result = await tools.invoke(
        name, call.arguments, request_id=context.request_id, deadline=deadline, visible_to=context.client
    )
    return Response(result.encode(), media_type="application/json")


def _visible(invocation: Invocation, key: ClientKey | None) -> bool:
    return key is None or key.allows_tool(invocation.tool)


def _json(payload: Any) -> Response[bytes]:
    return Response(_encoder.encode(payload), media_type="application/json")
