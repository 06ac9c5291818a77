"""A small MCP client over Streamable HTTP, on the router's own HTTP client, speaking both revisions.

2026-07-28 (stateless) is tried first: every request carries its version, client info and capabilities in
`_meta`, with the `MCP-Protocol-Version`, `Mcp-Method` and (for `tools/call`) `Mcp-Name` headers. As that
revision's backward-compatibility rules say, a 4xx answer whose body is not one of the modern JSON-RPC
errors (-32020 header mismatch, -32021 missing capability, -32022 unsupported version) means a server of
the earlier era, as is a -32022 that lists no modern version: the client then speaks 2025-11-25 to that
server from then on: `initialize`, `notifications/initialized`, the `Mcp-Session-Id` the server may assign
echoed on every request with `MCP-Protocol-Version`, and on a 404 for that session a new `initialize`.

Either way an answer is JSON or a per-request event stream; the stream is read until the response with
the request's id arrives (notifications before it are skipped), and never beyond a byte cap. Wire shapes
are validated with `mcp-types`, the specification's own type package (pydantic models, no HTTP stack):
the official SDK would bring a second web framework and HTTP client into the router for a few requests.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    HEADER_MISMATCH,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    PROTOCOL_VERSION_META_KEY,
    UNSUPPORTED_PROTOCOL_VERSION,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

from app.tools.egress import read_capped
from providers.errors import ToolError, ToolInvalidResponse, ToolUnreachable
from providers.sse import iter_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    import httpx

    from app.tools.egress import EgressClient

__all__ = ["CLIENT_INFO", "MCPClient", "MCPError", "header_value"]

log = logging.getLogger(__name__)

CLIENT_INFO = {"name": "llm-router", "version": "0.1.0"}
_MODERN_ERRORS = frozenset((HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION))
_ACCEPT = "application/json, text/event-stream"
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()
_SAFE_HEADER = frozenset(range(0x20, 0x7F))
_WHAT = "the MCP server"

Era = Literal["modern", "legacy"]


class MCPError(ToolError):
    """The server answered a request with a JSON-RPC error."""

    default_code = "tool_error"
    retryable = False

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"The MCP server answered with error {code}: {message}")
        self.rpc_code = code
        self.rpc_message = message
        self.data = data


class _Fallback(Exception):
    """The server is of the handshake era."""


class _SessionGone(Exception):
    """The server no longer knows our session."""


class MCPClient:
    """One MCP server. Safe for concurrent requests; the era is found once, then kept."""

    def __init__(self, url: str, headers: Mapping[str, str], egress: EgressClient, *, max_bytes: int) -> None:
        self.url = url
        self.headers = dict(headers)
        self.egress = egress
        self.max_bytes = max_bytes
        self.era: Era | None = None
        self.protocol_version: str | None = None
        self.session_id: str | None = None
        self._ids = itertools.count(1)
        self._handshake = asyncio.Lock()

    async def request(
        self, method: str, params: dict[str, Any], *, time_limit: float, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The `result` of one request, or `MCPError` for a JSON-RPC error."""
        if self.era != "legacy":
            try:
                result = await self._modern(method, params, time_limit, headers)
            except _Fallback:
                log.info("the MCP server at %s speaks the handshake era; using %s", self.url, LATEST_HANDSHAKE_VERSION)
                self.era = "legacy"
            else:
                self.era = "modern"
                return result
        for attempt in range(2):
            await self._ensure_session(time_limit)
            try:
                return await self._legacy(method, params, time_limit, headers)
            except _SessionGone:
                if attempt:
                    break
                self.protocol_version = None
        raise ToolUnreachable("The MCP server dropped its session twice in a row.")

    async def aclose(self) -> None:
        """End the session, if the server gave one (best effort)."""
        if self.session_id is None:
            return
        session, self.session_id = self.session_id, None
        try:
            async with self.egress.stream(
                "DELETE", self.url, headers=self._legacy_headers(session), time_limit=5.0, what="the MCP server"
            ):
                pass
        except ToolError:
            pass

    # ----------------------------------------------------------------------------------------- 2026-07-28

    async def _modern(
        self, method: str, params: dict[str, Any], time_limit: float, extra: Mapping[str, str] | None
    ) -> dict[str, Any]:
        meta = {
            PROTOCOL_VERSION_META_KEY: LATEST_MODERN_VERSION,
            CLIENT_INFO_META_KEY: CLIENT_INFO,
            CLIENT_CAPABILITIES_META_KEY: {},
        }
        headers = {
            **self.headers,
            **(extra or {}),
            "accept": _ACCEPT,
            "content-type": "application/json",
            "mcp-protocol-version": LATEST_MODERN_VERSION,
            "mcp-method": method,
        }
        if method == "tools/call":
            headers["mcp-name"] = header_value(str(params.get("name", "")))
        request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**params, "_meta": meta}}
        async with self.egress.stream(
            "POST",
            self.url,
            headers=headers,
            content=_encoder.encode(body),
            time_limit=time_limit,
            what="the MCP server",
        ) as response:
            if response.status_code >= 400:
                error = await self._error_body(response)
                if error is not None and error[0] in _MODERN_ERRORS:
                    if error[0] == UNSUPPORTED_PROTOCOL_VERSION and _handshake_only(error[2]):
                        raise _Fallback
                    raise MCPError(*error)
                if error is not None and error[0] == -32601 and response.status_code == 404:
                    raise MCPError(*error)
                if response.status_code in (400, 404, 405, 406, 415, 422):
                    raise _Fallback
                raise _status_error(response.status_code)
            return await self._result(response, request_id)

    # ----------------------------------------------------------------------------------------- 2025-11-25

    async def _ensure_session(self, time_limit: float) -> None:
        if self.protocol_version is not None:
            return
        async with self._handshake:
            if self.protocol_version is not None:
                return
            self.session_id = None
            request_id = next(self._ids)
            body = {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "initialize",
                "params": {"protocolVersion": LATEST_HANDSHAKE_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO},
            }
            headers = {**self.headers, "accept": _ACCEPT, "content-type": "application/json"}
            async with self.egress.stream(
                "POST",
                self.url,
                headers=headers,
                content=_encoder.encode(body),
                time_limit=time_limit,
                what="the MCP server",
            ) as response:
                if response.status_code >= 400:
                    error = await self._error_body(response)
                    if error is not None:
                        raise MCPError(*error)
                    raise _status_error(response.status_code)
                session = response.headers.get("mcp-session-id")
                result = await self._result(response, request_id)
            version = result.get("protocolVersion")
            if version not in HANDSHAKE_PROTOCOL_VERSIONS:
                raise ToolInvalidResponse(
                    f"The MCP server chose protocol version {version!r}, which the router does not speak."
                )
            self.session_id = session
            self.protocol_version = version
            notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            async with self.egress.stream(
                "POST",
                self.url,
                headers=self._legacy_headers(session) | {"content-type": "application/json"},
                content=_encoder.encode(notification),
                time_limit=time_limit,
                what="the MCP server",
            ) as response:
                if response.status_code >= 400:
                    raise _status_error(response.status_code)

    async def _legacy(
        self, method: str, params: dict[str, Any], time_limit: float, extra: Mapping[str, str] | None
    ) -> dict[str, Any]:
        request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        session = self.session_id
        headers = {**(extra or {}), **self._legacy_headers(session), "content-type": "application/json"}
        async with self.egress.stream(
            "POST",
            self.url,
            headers=headers,
            content=_encoder.encode(body),
            time_limit=time_limit,
            what="the MCP server",
        ) as response:
            if response.status_code == 404 and session is not None:
                raise _SessionGone
            if response.status_code >= 400:
                error = await self._error_body(response)
                if error is not None:
                    raise MCPError(*error)
                raise _status_error(response.status_code)
            return await self._result(response, request_id)

    def _legacy_headers(self, session: str | None) -> dict[str, str]:
        headers = {
            **self.headers,
            "accept": _ACCEPT,
            "mcp-protocol-version": self.protocol_version or LATEST_HANDSHAKE_VERSION,
        }
        if session is not None:
            headers["mcp-session-id"] = session
        return headers

    # -------------------------------------------------------------------------------------------- answers

    async def _result(self, response: httpx.Response, request_id: int) -> dict[str, Any]:
        media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media == "text/event-stream":
            message = await self._from_stream(response, request_id)
        else:
            body, truncated = await read_capped(response, self.max_bytes, "the MCP server")
            if truncated:
                raise ToolInvalidResponse(f"The MCP server's answer is larger than {self.max_bytes} bytes.")
            message = _message(body)
        if message.get("id") != request_id:
            raise ToolInvalidResponse("The MCP server answered another request than the one sent.")
        if isinstance(error := message.get("error"), dict):
            raise MCPError(int(error.get("code", 0)), str(error.get("message", "")), error.get("data"))
        result = message.get("result")
        if not isinstance(result, dict):
            raise ToolInvalidResponse("The MCP server's answer has no result.")
        return result

    async def _from_stream(self, response: httpx.Response, request_id: int) -> dict[str, Any]:
        async for event in iter_events(_capped_chunks(response, self.max_bytes)):
            if not event.data.strip():
                continue
            message = _message(event.data)
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return message
        raise ToolInvalidResponse("The MCP server's event stream ended without an answer.")

    async def _error_body(self, response: httpx.Response) -> tuple[int, str, Any] | None:
        """The JSON-RPC error in a failed answer's body, if it has one."""
        body, _ = await read_capped(response, 64 * 1024, "the MCP server")
        try:
            message = _decoder.decode(body)
        except msgspec.DecodeError:
            return None
        error = message.get("error") if isinstance(message, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            return None
        return error["code"], str(error.get("message", "")), error.get("data")


def header_value(value: str) -> str:
    """A value as an `Mcp-Name` or `Mcp-Param-*` header carries it: as is when plain ASCII, else Base64."""
    plain = value == value.strip() and all(ord(char) in _SAFE_HEADER for char in value)
    if plain and not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    return "=?base64?" + base64.b64encode(value.encode()).decode("ascii") + "?="


async def _capped_chunks(response: httpx.Response, max_bytes: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ToolInvalidResponse(f"The MCP server's answer is larger than {max_bytes} bytes.")
        yield chunk


def _message(data: bytes) -> dict[str, Any]:
    try:
        message = _decoder.decode(data)
    except msgspec.DecodeError:
        raise ToolInvalidResponse("The MCP server answered with something that is not JSON.") from None
    if not isinstance(message, dict):
        raise ToolInvalidResponse("The MCP server answered with something that is not a JSON-RPC message.")
    return message


def _handshake_only(data: Any) -> bool:
    supported = data.get("supported") if isinstance(data, dict) else None
    return isinstance(supported, list) and LATEST_MODERN_VERSION not in supported


def _status_error(status: int) -> ToolError:
    if status >= 500 or status == 429:
        return ToolUnreachable(f"The MCP server answered HTTP {status}.")
    if status in (401, 403):
        return ToolInvalidResponse(f"The MCP server refused the router's credentials (HTTP {status}).")
    return ToolInvalidResponse(f"The MCP server answered HTTP {status}.")
