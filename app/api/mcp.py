"""`POST /mcp`: the registry's tools over MCP's Streamable HTTP transport (`app.tools.mcp_server`).

GET (a standalone event stream) and DELETE (ending a session) answer 405: this server opens no streams of
its own and keeps no sessions, as both protocol revisions allow.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post

from app.api.inject import Injected
from app.context import current
from app.tools.mcp_server import MCPServer
from providers.errors import MethodNotAllowed

__all__ = ["mcp_endpoint", "mcp_no_session", "mcp_no_stream"]


@post("/mcp", status_code=200)
async def mcp_endpoint(request: Request[Any, Any, Any], mcp: Injected[MCPServer]) -> Response[bytes]:
    context = current()
    answer = await mcp.handle(await request.body(), request.headers, key=context.client, request_id=context.request_id)
    return Response(answer.body or b"", status_code=answer.status, headers=answer.headers)


@get("/mcp")
async def mcp_no_stream() -> None:
    raise MethodNotAllowed("This MCP server opens no standalone event stream: POST each request.")


@delete("/mcp", status_code=405)
async def mcp_no_session() -> None:
    raise MethodNotAllowed("This MCP server keeps no sessions, so there is none to end.")
