"""`mcp` toolsets: the tools of a remote MCP server, found with `tools/list`, called with `tools/call`.

A tool whose schema is not usable JSON Schema, or whose `x-mcp-header` annotations break the rules of the
2026-07-28 transport, is left out with a warning, as that revision asks, rather than failing the toolset.
Annotated parameters are mirrored into `Mcp-Param-{Name}` headers on each call. Answers are validated with
the specification's types; their content becomes the registry's result items (text and images as they
are; audio, resource links and embedded resources as text that names them), cut at the output cap.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mcp_types import CallToolResult, ListToolsResult
from mcp_types import ImageContent as MCPImage
from mcp_types import TextContent as MCPText
from pydantic import ValidationError

from app.tools.definitions import check_schema, resolve_headers
from app.tools.kinds.base import ToolSpec
from app.tools.mcp_client import MCPClient, header_value
from app.tools.results import ImageContent, TextContent, ToolOutput
from providers.errors import InvalidToolDefinition, ToolInvalidResponse

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.schemas import SchemaCompiler
    from app.tools.definitions import MCPToolset
    from app.tools.egress import EgressClient
    from app.tools.results import Content

__all__ = ["MCPBackend", "output_of"]

log = logging.getLogger(__name__)

_MAX_PAGES = 50
_HEADER_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DISCOVERY_TIMEOUT = 30.0


class MCPBackend:
    def __init__(
        self, definition: MCPToolset, egress: EgressClient, schemas: SchemaCompiler, *, max_output_bytes: int
    ) -> None:
        self.definition = definition
        self.schemas = schemas
        self.max_output_bytes = max_output_bytes
        # The answer's JSON is read whole before its content is cut to the cap: leave room for the envelope.
        self.client = MCPClient(
            definition.url,
            resolve_headers(definition.headers, "headers"),
            egress,
            max_bytes=4 * max_output_bytes + 64 * 1024,
        )

    async def discover(self) -> list[ToolSpec]:
        specs: list[ToolSpec] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params = {"cursor": cursor} if cursor else {}
            limit = self.definition.timeout or _DISCOVERY_TIMEOUT
            raw = await self.client.request("tools/list", params, time_limit=limit)
            try:
                listed = ListToolsResult.model_validate(raw)
            except ValidationError as exc:
                raise ToolInvalidResponse(f"The MCP server's tools/list answer is not valid: {_first(exc)}") from None
            found = (_spec(tool.model_dump(by_alias=True, exclude_none=True), self.schemas) for tool in listed.tools)
            specs += [spec for spec in found if spec is not None]
            cursor = listed.next_cursor
            if not cursor:
                break
        allowed = self.definition.allowed_tools
        if allowed is not None:
            missing = sorted(set(allowed) - {spec.name for spec in specs})
            if missing:
                raise InvalidToolDefinition(
                    f"The MCP server has no tool {', '.join(map(repr, missing))}.", param="allowed_tools"
                )
            specs = [spec for spec in specs if spec.name in allowed]
        return specs

    async def call(
        self, spec: ToolSpec, arguments: dict[str, Any], *, time_limit: float, headers: Mapping[str, str] | None = None
    ) -> ToolOutput:
        extra = dict(headers or {})
        for path, name in spec.call.get("param_headers", ()):
            value = _at(arguments, path)
            if value is not None:
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                extra[f"mcp-param-{name}"] = header_value(text)
        raw = await self.client.request(
            "tools/call", {"name": spec.name, "arguments": arguments}, time_limit=time_limit, headers=extra
        )
        return output_of(raw, self.max_output_bytes)

    async def aclose(self) -> None:
        await self.client.aclose()


def output_of(raw: dict[str, Any], max_bytes: int) -> ToolOutput:
    """A `tools/call` result as the registry's output, its content cut at `max_bytes`."""
    try:
        result = CallToolResult.model_validate(raw)
    except ValidationError as exc:
        raise ToolInvalidResponse(f"The MCP server's tools/call answer is not valid: {_first(exc)}") from None
    content: list[Content] = []
    room = max_bytes
    truncated = False
    for block in result.content:
        if isinstance(block, MCPImage):
            size = len(block.data)
            if size > room:
                truncated = True
                break
            content.append(ImageContent(data=block.data, mime_type=block.mime_type))
        else:
            text = (
                block.text
                if isinstance(block, MCPText)
                else _describe(block.model_dump(by_alias=True, exclude_none=True))
            )
            encoded = text.encode()
            size = len(encoded)
            if size > room:
                content.append(TextContent(encoded[:room].decode("utf-8", "ignore")))
                truncated = True
                room = 0
                break
            content.append(TextContent(text))
        room -= size
    structured = result.structured_content if not truncated else None
    return ToolOutput(content, structured, result.is_error, truncated, max_bytes - room)


def _spec(tool: dict[str, Any], schemas: SchemaCompiler) -> ToolSpec | None:
    name = tool["name"]
    parameters = tool.get("inputSchema") or {"type": "object"}
    returns = tool.get("outputSchema")
    try:
        check_schema(parameters, "inputSchema", schemas)
        if returns is not None:
            check_schema(returns, "outputSchema", schemas)
        headers = _param_headers(parameters)
    except (InvalidToolDefinition, ValueError) as exc:
        log.warning("left out the MCP tool %r: %s", name, getattr(exc, "message", exc))
        return None
    call: dict[str, Any] = {"param_headers": headers} if headers else {}
    return ToolSpec(
        name=name,
        description=tool.get("description") or tool.get("title") or "",
        parameters=parameters,
        returns=returns,
        annotations=tool.get("annotations"),
        call=call,
    )


def _param_headers(schema: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[list[str], str]]:
    """The `x-mcp-header` annotations reachable through `properties` alone, checked as the transport says."""
    found: list[tuple[list[str], str]] = []
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        header = prop.get("x-mcp-header")
        if header is not None:
            if not isinstance(header, str) or not header or not set(header) <= _HEADER_TOKEN:
                raise ValueError(f"x-mcp-header {header!r} is not an HTTP header name")
            if prop.get("type") not in ("string", "integer", "boolean"):
                raise ValueError(f"x-mcp-header {header!r} is on a parameter that is not a string, integer or boolean")
            found.append(([*path, name], header))
        found += _param_headers(prop, (*path, name))
    names = [header.lower() for _, header in found]
    if len(names) != len(set(names)):
        raise ValueError("two x-mcp-header annotations have the same name")
    return found


def _at(arguments: dict[str, Any], path: list[str]) -> Any:
    node: Any = arguments
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _describe(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "resource":
        resource = block.get("resource") or {}
        return str(resource.get("text") or f"[resource {resource.get('uri', '')}]")
    if kind == "resource_link":
        return f"[resource link {block.get('name', '')}: {block.get('uri', '')}]"
    return f"[{kind} {block.get('mimeType', '')}]".replace(" ]", "]")


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
