"""A real MCP server for the tests, built with the official MCP Python SDK, on Streamable HTTP.

    python -m tests.e2e.tools.mcp_server PORT [--legacy-only]

It serves both protocol eras, as the SDK does; `--legacy-only` puts a front in place that answers any
2026-07-28 request with a bare 400, as a server of the handshake era (n8n's MCP Server Trigger) would, so
the router's fallback to `initialize` and sessions is exercised against the SDK's own session handling.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("test-tools")


@server.tool(description="Add two integers.", annotations=ToolAnnotations(readOnlyHint=True))
def add(a: int, b: int) -> int:
    return a + b


@server.tool(name="text.echo", description="Echo a text back (its name has a dot).")
def echo(text: str) -> str:
    return text


@server.tool(description="Always fails.")
def broken() -> str:
    raise ValueError("this tool always fails")


def legacy_only(app: Any) -> Any:
    async def front(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            version = dict(scope["headers"]).get(b"mcp-protocol-version", b"")
            if version == b"2026-07-28":
                await send(
                    {"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"text/plain")]}
                )
                await send({"type": "http.response.body", "body": b"Bad Request: No valid session ID provided"})
                return
        await app(scope, receive, send)

    return front


if __name__ == "__main__":
    port = int(sys.argv[1])
    app: Any = server.streamable_http_app(json_response=False)
    if "--legacy-only" in sys.argv:
        app = legacy_only(app)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
