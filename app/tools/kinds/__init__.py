"""The kinds of toolset, each a `ToolBackend`: it finds its tools (`discover`) and calls one (`call`).

    http      inline tools, each a URL                           (`app.tools.kinds.http`)
    openapi   the operations of an OpenAPI 3.x document            (`app.tools.kinds.openapi`)
    mcp       the tools of a Streamable HTTP MCP server             (`app.tools.kinds.mcp`)

`build_backend` picks the kind from a definition. A backend answers with the tool's own answer
(`ToolOutput`, errors included) or raises a `providers.errors.ToolError` for a failure on the router's side;
retries, rate limits, validation and the deadline are the registry's business, the same for every kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.tools.definitions import HttpToolset, OpenAPIToolset
from app.tools.kinds.base import ToolBackend, ToolSpec
from app.tools.kinds.http import HttpBackend
from app.tools.kinds.mcp import MCPBackend
from app.tools.kinds.openapi import OpenAPIBackend

if TYPE_CHECKING:
    from app.schemas import SchemaCompiler
    from app.tools.definitions import ToolsetDefinition
    from app.tools.egress import EgressClient

__all__ = ["ToolBackend", "ToolSpec", "build_backend"]


def build_backend(
    definition: ToolsetDefinition,
    egress: EgressClient,
    schemas: SchemaCompiler,
    *,
    max_output_bytes: int,
    max_document_bytes: int,
) -> ToolBackend:
    """The backend for a (validated) definition. Header templates are resolved here, once."""
    if isinstance(definition, HttpToolset):
        return HttpBackend(definition, egress, max_output_bytes=max_output_bytes)
    if isinstance(definition, OpenAPIToolset):
        return OpenAPIBackend(
            definition, egress, schemas, max_output_bytes=max_output_bytes, max_document_bytes=max_document_bytes
        )
    return MCPBackend(definition, egress, schemas, max_output_bytes=max_output_bytes)
