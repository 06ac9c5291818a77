"""What one answer's tool loop may run, and how: a configured agent's tools, or those a request names.

`AgentRun` (`app.agents.loop`) runs the registry tools of a `Toolbox`. A configured agent makes one from its
settings on every request (`Toolbox.of_agent`), so a toolset registered or refreshed later is used at once.
A Responses request's `mcp` tools make one for that request only (`app.responses.mcp`), with what such a
tool adds: the label the client knows each toolset by, headers sent with that toolset's calls only, calls
held until the client approves them, and calls it approved, to run before the model's first round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.settings import AgentSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.access.keys import ClientKey
    from app.agents.directory import Agent
    from app.tools.registry import ToolRegistry
    from app.tools.toolsets import Tool

__all__ = ["ApprovedCall", "ToolUse", "Toolbox"]

# A request's own tools run as an agent's do with the defaults: the limits are the same documented ones.
_MAX_ROUNDS: int = AgentSettings.model_fields["max_rounds"].default
_PARALLEL_TOOL_CALLS: int = AgentSettings.model_fields["parallel_tool_calls"].default


@dataclass(frozen=True, slots=True)
class ToolUse:
    """One registry tool as a run calls it."""

    tool: Tool
    label: str
    """The toolset's name as the client knows it (an `mcp_call` item's `server_label`)."""
    headers: Mapping[str, str] | None = None
    """Sent with this tool's calls only (a Responses `mcp` tool's `headers` and `authorization`)."""
    needs_approval: bool = False
    """Calls wait for the client's approval instead of running."""


@dataclass(frozen=True, slots=True)
class ApprovedCall:
    """A call the client approved in this request: it runs before the model's first round."""

    approval_request_id: str
    """The approval request's id, which is also the call's id in the conversation."""
    name: str
    """The name the model calls the tool by (a key of `Toolbox.tools`)."""
    arguments: str


@dataclass(frozen=True, slots=True)
class Toolbox:
    """The registry tools one answer may run, by the name the model calls each, and how to run them."""

    owner: str
    """Who runs the tools, as messages name it: "the agent 'forecaster'"."""
    tools: Mapping[str, ToolUse]
    model: str | None = None
    """The model every round goes to (None: the one the request names)."""
    instructions: str | None = None
    """A system message put before the conversation."""
    max_rounds: int = _MAX_ROUNDS
    parallel_tool_calls: int = _PARALLEL_TOOL_CALLS
    tool_timeout: float | None = None
    source: str = "agent"
    """How the invocation log says the calls were made."""
    approved: tuple[ApprovedCall, ...] = field(default=())

    @classmethod
    def of_agent(cls, agent: Agent, registry: ToolRegistry, client: ClientKey | None) -> Toolbox:
        """A configured agent's tools for `client` (a 403 if the client may not use one of them)."""
        tools = agent.tools(registry, client)
        settings = agent.settings
        return cls(
            owner=f"the agent '{agent.name}'",
            tools={tool.name: ToolUse(tool, tool.toolset) for tool in tools},
            model=settings.model,
            instructions=agent.instructions(registry, tools),
            max_rounds=settings.max_rounds,
            parallel_tool_calls=settings.parallel_tool_calls,
            tool_timeout=settings.tool_timeout,
        )
