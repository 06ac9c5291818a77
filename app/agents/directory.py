"""The agents a client can name, and the registry tools each of them may call.

An agent is `[agents.<name>]` in the config file, or registered through the admin API with the same fields:
a routable model or alias, patterns naming registry tools (`weather_*`), and how to run them
(instructions, `max_rounds`, `parallel_tool_calls`, `tool_timeout`). Its tools are looked up in the
registry on every request, so a toolset registered or refreshed later is used at once. A client key must be
allowed the agent (its `models`) and every tool the agent would call (its `tools`).

    get(name), names()                  what requests and `GET /v1/models` read: config agents, then API ones
    agents(), agent(name)               what the admin API shows (`AgentNotFound` for an unknown name)
    register / replace / remove         the admin API's operations, on API agents only
    start / sync / close                load the stored agents, and follow the store (`app.records`)

Config agents are read-only through the API. API agents are kept in the record store (SQLite, or Redis with
`redis_url`), so they survive a restart, and every worker follows the store's generation to pick up what
another worker or instance changed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from pydantic import ValidationError

from app.agents.definitions import decode_stored, encode_stored, parse_agent
from app.records import MemoryRecordStore, StoreFollower
from providers.errors import AgentConflict, AgentNotFound, InvalidAgentDefinition, ModelNotAllowed, RouterError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from app.access.keys import ClientKey
    from app.agents.definitions import AgentDefinition, ModelNames
    from app.records import RecordStore
    from app.settings import AgentSettings
    from app.tools.registry import ToolRegistry
    from app.tools.toolsets import Tool

__all__ = ["Agent", "AgentDirectory", "Source"]

log = logging.getLogger(__name__)

Source = Literal["config", "api"]


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    settings: AgentSettings
    source: Source = "config"
    updated_at: float = field(default_factory=time.time)
    stored: bytes | None = field(default=None, repr=False, compare=False)
    """The stored form it was built from (API agents), to notice another instance's change."""
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

    def describe(self) -> dict[str, Any]:
        """As the admin API shows it: its name, every field of its definition, where it comes from."""
        fields = self.settings.model_dump(exclude={"name"})
        shown = {"object": "agent", "name": self.name, **fields, "source": self.source}
        shown["updated_at"] = int(self.updated_at)
        return shown


class AgentDirectory:
    """The agents of this router, by name: the config file's, then those registered through the admin API."""

    def __init__(
        self,
        agents: Mapping[str, AgentSettings],
        *,
        names: ModelNames | None = None,
        store: RecordStore | None = None,
        sync_interval: float = 0.5,
    ) -> None:
        self._agents = {name: Agent(name, settings) for name, settings in agents.items()}
        self._names = names
        self.store: RecordStore = store or MemoryRecordStore("agents")
        self._follower = StoreFollower(self.store, self._apply_stored, interval=sync_interval)
        self._write = asyncio.Lock()

    # ------------------------------------------------------------------------------------------- reading

    def get(self, name: str) -> Agent | None:
        return self._agents.get(name)

    def names(self) -> list[str]:
        return list(self._agents)

    def agents(self) -> list[Agent]:
        return list(self._agents.values())

    def agent(self, name: str) -> Agent:
        found = self._agents.get(name)
        if found is None:
            raise AgentNotFound(f"There is no agent named '{name}'.", param="name")
        return found

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the stored agents, and start following the store."""
        try:
            await self.sync()
        except RouterError as exc:  # the store is down (Redis): serve the config's agents, and keep trying
            log.warning("could not read the agent store: %s", exc.message)
        self._follower.start()

    async def sync(self) -> None:
        """Pick up agents another worker or instance registered, replaced or removed."""
        await self._follower.sync()

    async def close(self) -> None:
        await self._follower.close()
        await self.store.close()

    # ------------------------------------------------------------------------------------- administration

    async def register(self, body: bytes) -> Agent:
        definition = self._parse(body)
        async with self._write:
            if definition.name in self._agents:
                raise self._exists(definition.name)
            agent = _api_agent(definition)
            assert agent.stored is not None
            if not await self.store.create(agent.name, agent.stored):
                raise self._exists(definition.name)
            self._agents[agent.name] = agent
        return agent

    async def replace(self, name: str, body: bytes) -> Agent:
        definition = self._parse(body, name)
        async with self._write:
            self._writable(name)
            agent = _api_agent(definition)
            assert agent.stored is not None
            if not await self.store.replace(name, agent.stored):
                self._agents.pop(name, None)  # removed elsewhere meanwhile
                raise AgentNotFound(f"There is no agent named '{name}'.", param="name")
            self._agents[name] = agent
        return agent

    async def remove(self, name: str) -> None:
        async with self._write:
            self._writable(name)
            deleted = await self.store.delete(name)
            self._agents.pop(name, None)
        if not deleted:
            raise AgentNotFound(f"There is no agent named '{name}'.", param="name")

    def _parse(self, body: bytes, name: str | None = None) -> AgentDefinition:
        assert self._names is not None, "the admin API needs the router's model names"
        definition = parse_agent(body, self._names)
        if name is not None and definition.name != name:
            raise InvalidAgentDefinition(
                f"The body's name '{definition.name}' is not the agent's name '{name}'.", param="name"
            )
        return definition

    def _writable(self, name: str) -> None:
        if self.agent(name).source == "config":
            raise AgentConflict(
                f"The agent '{name}' comes from the config file and cannot be changed through the API.",
                param="name",
                code="agent_read_only",
            )

    def _exists(self, name: str) -> AgentConflict:
        return AgentConflict(f"An agent named '{name}' already exists.", param="name")

    # ------------------------------------------------------------------------------------ keeping in step

    def _apply_stored(self, stored: dict[str, bytes]) -> None:
        for name, data in stored.items():
            current = self._agents.get(name)
            if current is not None and (current.source == "config" or current.stored == data):
                continue
            if self._names is not None and name in self._names.reserved:
                log.warning("the stored agent %r is ignored: an alias in the config file has its name", name)
                continue
            try:
                definition, updated_at = decode_stored(data)
            except (msgspec.DecodeError, msgspec.ValidationError, ValidationError) as exc:
                log.warning("the stored agent %r cannot be used: %s", name, exc)
                continue
            self._agents[name] = Agent(name, definition, "api", updated_at, data)
        for name, agent in list(self._agents.items()):
            if agent.source == "api" and name not in stored:
                del self._agents[name]


def _api_agent(definition: AgentDefinition) -> Agent:
    updated_at = time.time()
    return Agent(definition.name, definition, "api", updated_at, encode_stored(definition, updated_at))
