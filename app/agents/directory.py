"""The agents a client can name, and the registry tools each of them may call.

An agent is `[agents.<name>]` in the config file: a routable model or alias, patterns naming registry tools
(`weather_*`), and how to run them (instructions, `max_rounds`, `parallel_tool_calls`, `tool_timeout`). Its
tools are looked up in the registry on every request, so a toolset registered or refreshed later is used
at once. A client key must be allowed the agent (its `models`) and every tool the agent would call (its
`tools`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from providers.errors import ModelNotAllowed

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from app.access.keys import ClientKey
    from app.settings import AgentSettings
    from app.tools.registry import ToolRegistry
    from app.tools.toolsets import Tool

__all__ = ["Agent", "AgentDirectory"]


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    settings: AgentSettings
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        patterns = self.settings.tools
        pattern = re.compile("|".join(map(fnmatch.translate, patterns))) if patterns else None
        object.__setattr__(self, "_pattern", pattern)

    def calls(self, tool: str) -> bool:
        """Whether the agent may call the registry tool `tool`."""
        return self._pattern is not None and self._pattern.match(tool) is not None

    def tools(self, registry: ToolRegistry, client: ClientKey | None) -> list[Tool]:
        """The tools this agent runs for `client`: a 403 if the client may not use one of them."""
        tools = [tool for tool in registry.tools() if self.calls(tool.name)]
        if client is not None:
            for tool in tools:
                if not client.allows_tool(tool.name):
                    raise ModelNotAllowed(
                        f"This API key may not use the agent '{self.name}': it calls the tool '{tool.name}', "
                        "which the key's `tools` do not allow.",
                        param="model",
                    )
        return tools

    def instructions(self, registry: ToolRegistry, tools: Iterable[Tool]) -> str | None:
        """The system message: the configured instructions, and the toolsets' descriptions if asked."""
        parts = [self.settings.instructions] if self.settings.instructions else []
        if self.settings.describe_toolsets:
            used = {tool.toolset for tool in tools}
            described = [
                f"- {toolset.name}: {toolset.definition.description}"
                for toolset in registry.toolsets()
                if toolset.name in used and toolset.definition.description
            ]
            if described:
                parts.append("Your tools come from these toolsets:\n" + "\n".join(described))
        return "\n\n".join(parts) or None


class AgentDirectory:
    """The agents of this router, by name."""

    def __init__(self, agents: Mapping[str, AgentSettings]) -> None:
        self._agents = {name: Agent(name, settings) for name, settings in agents.items()}

    def get(self, name: str) -> Agent | None:
        return self._agents.get(name)

    def names(self) -> list[str]:
        return list(self._agents)
