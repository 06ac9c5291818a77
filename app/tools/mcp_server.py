"""The registry as an MCP server (`POST /mcp`, Streamable HTTP), speaking both protocol eras.

A request carrying 2026-07-28's `_meta` (or that version in `MCP-Protocol-Version`) is served statelessly as
that revision says: its headers must agree with its body (-32020 otherwise), an unknown version gets
-32022 with the versions served, an unknown method 404 with -32601, and results carry `resultType`
(lists also `ttlMs` and `cacheScope`). Anything else is the 2025-11-25 era: `initialize` negotiates a version
and `ping` answers. The server never assigns an `Mcp-Session-Id`: a session would hold nothing, and without
one any worker or instance can serve any request. Every answer is one JSON object.

Tools are those the client's key may use, under the registry's names; `tools/call` goes through
`ToolRegistry.invoke`, so keys, rate limits, timeouts, caps and the invocation log all apply. As MCP asks,
a tool's failure (invalid arguments, a timeout, an unreachable tool) is a result with `isError`, so the
model sees it; only an unknown tool is a protocol error (-32602). Browser origins are refused unless listed
in `[tools] mcp_allowed_origins`, which guards loopback deployments against DNS rebinding.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    PROTOCOL_VERSION_META_KEY,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

from app.tools.results import ImageContent, TextContent
from providers.errors import InvalidToolArguments, RouterError, ToolNotFound

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.access.keys import ClientKey
    from app.tools.registry import ToolRegistry
    from app.tools.results import ToolResult

__all__ = ["MCPAnswer", "MCPServer"]

SERVER_INFO = {"name": "llm-router", "version": "0.1.0"}
_CAPABILITIES = {"tools": {"listChanged": False}}
_SUPPORTED = [*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS]
_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class MCPAnswer:
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _Failure(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class MCPServer:
    def __init__(self, registry: ToolRegistry, *, allowed_origins: list[str]) -> None:
        self.registry = registry
        self.allowed_origins = frozenset(origin.rstrip("/") for origin in allowed_origins)

    async def handle(
        self, body: bytes, headers: Mapping[str, str], *, key: ClientKey | None, request_id: str
    ) -> MCPAnswer:
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.allowed_origins:
            return _error(None, _Failure(INVALID_REQUEST, f"The origin {origin} may not use this server."), 403)
        try:
            message = _decoder.decode(body)
        except msgspec.DecodeError:
            return _error(None, _Failure(PARSE_ERROR, "The body is not JSON."), 400)
        except RecursionError:
            return _error(None, _Failure(PARSE_ERROR, "The body is nested too deeply (about 1,000 levels)."), 400)
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return _error(None, _Failure(INVALID_REQUEST, "Send one JSON-RPC 2.0 message per request."), 400)
        if "method" not in message:
            return MCPAnswer(202)  # a response to a request this server never sends
        request_id_ = message.get("id")
        if request_id_ is None:
            return MCPAnswer(202)  # notifications (initialized, cancelled) need nothing from a stateless server
        method = message["method"]
        params = message.get("params") or {}
        if not isinstance(params, dict) or not isinstance(method, str):
            return _error(request_id_, _Failure(INVALID_REQUEST, "`method` must be a string, `params` an object."), 400)
        found = params.get("_meta")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        header_version = headers.get("mcp-protocol-version")
        modern = PROTOCOL_VERSION_META_KEY in meta or (
            header_version is not None and header_version not in HANDSHAKE_PROTOCOL_VERSIONS and method != "initialize"
        )
        try:
            if modern:
                _check_modern(method, params, meta, headers)
                result = await self._modern(method, params, key, request_id)
            else:
                if header_version is not None and header_version not in _SUPPORTED:
                    raise _Failure(INVALID_REQUEST, f"Unsupported MCP-Protocol-Version {header_version}.")
                result = await self._legacy(method, params, key, request_id)
        except _Failure as failure:
            return _error(request_id_, failure, _STATUS.get(failure.code, 400) if modern else 200)
        return _json({"jsonrpc": "2.0", "id": request_id_, "result": result})

    async def _modern(self, method: str, params: dict[str, Any], key: ClientKey | None, request_id: str) -> Any:
        if method == "server/discover":
            return {
                "supportedVersions": _SUPPORTED,
                "capabilities": _CAPABILITIES,
                "serverInfo": SERVER_INFO,
                "resultType": "complete",
                "ttlMs": 0,
                "cacheScope": "private",
            }
        if method == "tools/list":
            return {**self._list(key), "resultType": "complete", "ttlMs": 0, "cacheScope": "private"}
        if method == "tools/call":
            return {**await self._call(params, key, request_id), "resultType": "complete"}
        raise _Failure(METHOD_NOT_FOUND, f"Method not found: {method}")

    async def _legacy(self, method: str, params: dict[str, Any], key: ClientKey | None, request_id: str) -> Any:
        if method == "initialize":
            asked = params.get("protocolVersion")
            version = asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
            return {"protocolVersion": version, "capabilities": _CAPABILITIES, "serverInfo": SERVER_INFO}
        if method == "ping":
            return {}
        if method == "tools/list":
            return self._list(key)
        if method == "tools/call":
            return await self._call(params, key, request_id)
        raise _Failure(METHOD_NOT_FOUND, f"Method not found: {method}")

    def _list(self, key: ClientKey | None) -> dict[str, Any]:
        tools = []
        for tool in self.registry.tools(visible_to=key):
            listed: dict[str, Any] = {
                "name": tool.name,
                "description": tool.description,
                "inputSchema": _object(tool.parameters),
            }
            returns = tool.spec.returns
            if isinstance(returns, dict) and returns.get("type") == "object":
                listed["outputSchema"] = returns
            if tool.spec.annotations:
                listed["annotations"] = tool.spec.annotations
            tools.append(listed)
        return {"tools": tools}

    async def _call(self, params: dict[str, Any], key: ClientKey | None, request_id: str) -> dict[str, Any]:
        name = params.get("name")
        if not isinstance(name, str):
            raise _Failure(INVALID_PARAMS, "tools/call needs the tool's `name`.")
        arguments = params.get("arguments")
        try:
            result = await self.registry.invoke(
                name, {} if arguments is None else arguments, request_id=request_id, visible_to=key, source="mcp"
            )
        except ToolNotFound:
            raise _Failure(INVALID_PARAMS, f"Unknown tool: {name}") from None
        except (InvalidToolArguments, RouterError) as exc:
            return {"content": [{"type": "text", "text": exc.message}], "isError": True}
        return _call_result(result)


def _call_result(result: ToolResult) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for item in result.content:
        if isinstance(item, TextContent):
            content.append({"type": "text", "text": item.text})
        elif isinstance(item, ImageContent):
            content.append({"type": "image", "data": item.data, "mimeType": item.mime_type})
    answer: dict[str, Any] = {"content": content, "isError": result.is_error}
    if isinstance(result.structured_content, dict):
        answer["structuredContent"] = result.structured_content
    return answer


def _check_modern(method: str, params: dict[str, Any], meta: dict[str, Any], headers: Mapping[str, str]) -> None:
    version = meta.get(PROTOCOL_VERSION_META_KEY)
    header_version = headers.get("mcp-protocol-version")
    if version not in MODERN_PROTOCOL_VERSIONS:
        requested = version or header_version
        raise _Failure(
            UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            {"supported": _SUPPORTED, "requested": requested},
        )
    if header_version != version:
        raise _Failure(HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version does not match _meta.")
    if headers.get("mcp-method") != method:
        raise _Failure(HEADER_MISMATCH, "Header mismatch: Mcp-Method does not match the body's method.")
    if method == "tools/call" and _decoded(headers.get("mcp-name")) != params.get("name"):
        raise _Failure(HEADER_MISMATCH, "Header mismatch: Mcp-Name does not match the body's name.")
    if not isinstance(meta.get(CLIENT_CAPABILITIES_META_KEY, {}), dict):
        raise _Failure(INVALID_PARAMS, "The request's client capabilities must be an object.")


def _decoded(value: str | None) -> str | None:
    if value is not None and value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    return value


def _object(schema: dict[str, Any]) -> dict[str, Any]:
    # MCP requires an object schema at the root; a tool declared without `type` takes objects anyway.
    return schema if schema.get("type") == "object" else {"type": "object", **schema}


def _error(request_id: Any, failure: _Failure, status: int) -> MCPAnswer:
    error: dict[str, Any] = {"code": failure.code, "message": failure.message}
    if failure.data is not None:
        error["data"] = failure.data
    return MCPAnswer(status, _encoder.encode({"jsonrpc": "2.0", "id": request_id, "error": error}), dict(_JSON))


def _json(payload: Any) -> MCPAnswer:
    return MCPAnswer(200, _encoder.encode(payload), dict(_JSON))


_JSON = {"content-type": "application/json"}
