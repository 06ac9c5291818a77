"""Registered toolsets and their tools, as the registry holds them in memory.

A `Toolset` is a definition, the backend that calls its tools, and the tools found for it. Each `Tool` has
three names: `name`, the registry's (`<toolset>_<local name>`, what clients list and models call);
`local_name`, the same without the toolset's prefix; and `server_name`, the name its own server gives it
(`add`, `get.user`), which a call uses on the wire and which a Responses `mcp` tool lists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from app.access.keys import ClientKey
from app.tools.definitions import HttpToolset, redacted
from app.tools.names import local_names, public_name

if TYPE_CHECKING:
    from app.schemas import Schema, SchemaCompiler
    from app.settings import ToolSettings
    from app.tools.definitions import ToolsetDefinition
    from app.tools.kinds import ToolBackend, ToolSpec

__all__ = ["Source", "Tool", "Toolset", "build_tools"]

Source = Literal["config", "api"]


@dataclass(frozen=True, slots=True, eq=False)
class Tool:
    name: str
    local_name: str
    toolset: str
    spec: ToolSpec
    schema: Schema
    """The compiled validator of `spec.parameters`."""
    returns_schema: Schema | None
    timeout: float
    max_attempts: int
    rate_limit: int | None
    bucket: ClientKey | None
    """The rate limiter's key for this tool's calls per minute."""

    @property
    def server_name(self) -> str:
        return self.spec.name

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def parameters(self) -> dict[str, Any]:
        return self.spec.parameters

    def definition(self) -> dict[str, Any]:
        """The OpenAI tool definition, ready for a request's `tools`."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.spec.description, "parameters": self.spec.parameters},
        }

    def describe(self) -> dict[str, Any]:
        """As `GET /v1/tools` lists it."""
        return {
            "object": "tool",
            "name": self.name,
            "toolset": self.toolset,
            "description": self.spec.description,
            "parameters": self.spec.parameters,
            "returns": self.spec.returns,
            "version": self.spec.version,
        }


@dataclass(slots=True, eq=False)
class Toolset:
    definition: ToolsetDefinition
    source: Source
    backend: ToolBackend
    tools: dict[str, Tool] = field(default_factory=dict)
    """By registry name."""
    updated_at: float = field(default_factory=time.time)
    error: str | None = None
    """Why its tools could not be found (a config toolset whose server was down at start)."""
    stored: bytes | None = None
    """The stored form it was built from (API toolsets), to notice another instance's change."""

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def kind(self) -> str:
        return type(self.definition).__struct_config__.tag  # type: ignore[return-value]

    def by_server_name(self, name: str) -> Tool | None:
        """The tool its own server calls `name` (as the Responses `mcp` tool names them)."""
        for tool in self.tools.values():
            if tool.server_name == name:
                return tool
        return None

    def describe(self) -> dict[str, Any]:
        """As the admin API shows it: the definition with header values redacted, and its tools."""
        return {
            "object": "toolset",
            "name": self.name,
            "kind": self.kind,
            "description": self.definition.description,
            "definition": redacted(self.definition),
            "source": self.source,
            "updated_at": int(self.updated_at),
            "error": self.error,
            "tools": [tool.describe() for tool in self.tools.values()],
        }


def build_tools(
    definition: ToolsetDefinition, specs: list[ToolSpec], settings: ToolSettings, schemas: SchemaCompiler
) -> dict[str, Tool]:
    """The registry's tools for what a toolset's backend found (names made valid and distinct)."""
    locals_ = local_names(definition.name, (spec.name for spec in specs))
    inline = {tool.name: tool for tool in definition.tools} if isinstance(definition, HttpToolset) else {}
    tools: dict[str, Tool] = {}
    for spec in specs:
        own = inline.get(spec.name)
        name = public_name(definition.name, locals_[spec.name])
        rate_limit = (own.rate_limit if own else None) or definition.rate_limit
        tools[name] = Tool(
            name=name,
            local_name=locals_[spec.name],
            toolset=definition.name,
            spec=spec,
            schema=schemas.compile(spec.parameters),
            returns_schema=schemas.compile(spec.returns) if spec.returns is not None else None,
            timeout=(own.timeout if own else None) or definition.timeout or settings.timeout,
            max_attempts=(own.max_attempts if own else None) or definition.max_attempts or settings.max_attempts,
            rate_limit=rate_limit,
            # Key names cannot contain ':', so a tool's bucket never shares a client key's.
            bucket=ClientKey(name=f"tool:{name}", digest=b"", requests_per_minute=rate_limit) if rate_limit else None,
        )
    return tools
