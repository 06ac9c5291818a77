"""What every kind of toolset provides: `ToolSpec`, a tool as found, and `ToolBackend`, the calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.tools.results import ToolOutput

__all__ = ["ToolBackend", "ToolSpec"]


class ToolSpec(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    """One tool as its toolset found it: kept with the toolset, so every instance sees the same tools."""

    name: str
    """The tool's own name: the one its server knows it by."""
    description: str = ""
    parameters: dict[str, Any] = msgspec.field(default_factory=lambda: {"type": "object", "properties": {}})
    returns: dict[str, Any] | None = None
    version: str | None = None
    annotations: dict[str, Any] | None = None
    """MCP's hints (`readOnlyHint`, ...), as the server gave them."""
    call: dict[str, Any] = msgspec.field(default_factory=dict)
    """What the kind needs to make the call (an OpenAPI operation's method, path and parameter places)."""


class ToolBackend(Protocol):
    async def discover(self) -> list[ToolSpec]:
        """The toolset's tools, asking the server or reading the document where the kind has one."""
        ...

    async def call(
        self, spec: ToolSpec, arguments: dict[str, Any], *, time_limit: float, headers: Mapping[str, str] | None = None
    ) -> ToolOutput:
        """Call one tool with validated arguments; `headers` are extra ones for this call only."""
        ...

    async def aclose(self) -> None: ...
