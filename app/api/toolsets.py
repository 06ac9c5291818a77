"""The admin side of the tool registry, behind the admin key (`app.access.admin.AdminGuard`):

    POST   /v1/toolsets                 register a toolset: 201 with it and the tools found for it
    GET    /v1/toolsets                 every toolset, the config file's included
    GET    /v1/toolsets/{name}          one toolset
    PUT    /v1/toolsets/{name}          replace an API toolset's definition (its tools are found again)
    DELETE /v1/toolsets/{name}          remove an API toolset
    POST   /v1/toolsets/{name}/refresh  find a toolset's tools again (an MCP server's list, a fetched document)

Header values never come back: they are shown as `[redacted]`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.params import FromPath

from app.api.inject import Injected
from app.tools.registry import ToolRegistry

__all__ = [
    "create_toolset",
    "delete_toolset",
    "list_toolsets",
    "refresh_toolset",
    "replace_toolset",
    "retrieve_toolset",
]

_encoder = msgspec.json.Encoder()


@post("/", status_code=201)
async def create_toolset(request: Request[Any, Any, Any], tools: Injected[ToolRegistry]) -> Response[bytes]:
    toolset = await tools.register(await request.body())
    return _json(toolset.describe(), 201)


@get("/")
async def list_toolsets(tools: Injected[ToolRegistry]) -> Response[bytes]:
    return _json({"object": "list", "data": [toolset.describe() for toolset in tools.toolsets()]})


@get("/{name:str}")
async def retrieve_toolset(name: FromPath[str], tools: Injected[ToolRegistry]) -> Response[bytes]:
    return _json(tools.toolset(name).describe())


@put("/{name:str}")
async def replace_toolset(
    request: Request[Any, Any, Any], name: FromPath[str], tools: Injected[ToolRegistry]
) -> Response[bytes]:
    toolset = await tools.replace(name, await request.body())
    return _json(toolset.describe())


@delete("/{name:str}", status_code=200)
async def delete_toolset(name: FromPath[str], tools: Injected[ToolRegistry]) -> Response[bytes]:
    await tools.remove(name)
    return _json({"object": "toolset.deleted", "name": name, "deleted": True})


@post("/{name:str}/refresh", status_code=200)
async def refresh_toolset(name: FromPath[str], tools: Injected[ToolRegistry]) -> Response[bytes]:
    return _json((await tools.refresh(name)).describe())


def _json(payload: Any, status: int = 200) -> Response[bytes]:
    return Response(_encoder.encode(payload), status_code=status, media_type="application/json")
