"""`ToolRegistry`: the router's tools, whatever calls them (the HTTP API, the MCP server, a model loop).

    toolsets()                      every toolset: the config file's, then those registered through the API
    tools(visible_to=key)           the tools a client key may see (all of them on an open router)
    resolve(name, visible_to=key)   one tool, or `ToolNotFound`
    definition(name)                its OpenAI tool definition
    invoke(name, arguments, ...)    validate, rate-limit, call (timeout, retries, size cap), record: a `ToolResult`
    register / replace / remove / refresh                   the admin API's operations

Config-file toolsets are read-only here; their tools are found when the worker starts (a server that does
not answer then leaves its toolset empty, with `error` set, until a refresh). API toolsets are kept in the
store with the tools found for them, and every worker follows the store's generation
(`app.records.StoreFollower`) to pick up changes made elsewhere. A client key sees only the tools its
`tools` patterns allow; `visible_to=None` means no key (an open router, or the router's own use), which
sees everything.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from app.records import StoreFollower
from app.settings import ConfigError
from app.tools.calls import call_with_policy
from app.tools.definitions import decode_definition, parse_definition, resolve_headers
from app.tools.invocations import Invocation
from app.tools.kinds import build_backend
from app.tools.results import ToolResult, text_of
from app.tools.store import decode_stored, encode_stored
from app.tools.toolsets import Toolset, build_tools
from providers.errors import (
    InvalidToolArguments,
    InvalidToolDefinition,
    RouterError,
    ToolError,
    ToolInvalidResponse,
    ToolNotFound,
    ToolRateLimited,
    ToolsetConflict,
    ToolTimeout,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from app.access.keys import ClientKey
    from app.access.limits import RateLimiter
    from app.records import RecordStore
    from app.schemas import SchemaCompiler
    from app.settings import ToolSettings
    from app.tools.definitions import ToolsetDefinition
    from app.tools.egress import EgressClient
    from app.tools.invocations import InvocationLog, Outcome
    from app.tools.kinds import ToolSpec
    from app.tools.results import ToolOutput
    from app.tools.toolsets import Source, Tool

__all__ = ["InvocationObserver", "ToolRegistry"]

log = logging.getLogger(__name__)
invocation_log = logging.getLogger("llm_router.tools")

_encoder = msgspec.json.Encoder()
_RETRY_FAILED_DISCOVERY = 30.0
_CLOSE_REPLACED_AFTER = 60.0


class InvocationObserver(Protocol):
    def tool_invoked(self, invocation: Invocation) -> None: ...


class ToolRegistry:
    def __init__(
        self,
        settings: ToolSettings,
        *,
        store: RecordStore,
        invocations: InvocationLog,
        limiter: RateLimiter,
        egress: EgressClient,
        schemas: SchemaCompiler,
        config_toolsets: Mapping[str, dict[str, Any]] | None = None,
        observer: InvocationObserver | None = None,
        secrets: Callable[..., None] = lambda *values: None,
    ) -> None:
        self.settings = settings
        self.schemas = schemas
        self.store = store
        self.invocations = invocations
        self.limiter = limiter
        self.egress = egress
        self.observer = observer
        self._secrets = secrets
        self._toolsets: dict[str, Toolset] = {}
        self._config = [
            _config_definition(name, table, settings, schemas) for name, table in (config_toolsets or {}).items()
        ]
        self._follower = StoreFollower(
            store, self._apply_stored, interval=settings.sync_interval, each_poll=self._retry_failed_discovery
        )
        self._retry_at = 0.0
        self._write = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Find the config toolsets' tools, load the stored ones, and start following the store."""
        built = await asyncio.gather(*(self._discover_config(definition) for definition in self._config))
        for toolset in built:
            self._toolsets[toolset.name] = toolset
        try:
            await self.sync()
        except RouterError as exc:  # the store is down (Redis): serve what there is, and keep trying
            log.warning("could not read the toolset store: %s", exc.message)
        self._retry_at = time.monotonic() + _RETRY_FAILED_DISCOVERY
        self._follower.start()

    async def close(self) -> None:
        await self._follower.close()
        for task in self._closing:
            task.cancel()
        await asyncio.gather(*self._closing, return_exceptions=True)
        await asyncio.gather(*(toolset.backend.aclose() for toolset in self._toolsets.values()), return_exceptions=True)
        await self.store.close()
        await self.invocations.close()

    # ------------------------------------------------------------------------------------------- reading

    def toolsets(self) -> list[Toolset]:
        return list(self._toolsets.values())

    def toolset(self, name: str) -> Toolset:
        found = self._toolsets.get(name)
        if found is None:
            raise ToolNotFound(f"There is no toolset named '{name}'.", param="name")
        return found

    def tools(self, *, visible_to: ClientKey | None = None) -> list[Tool]:
        return [
            tool
            for toolset in self._toolsets.values()
            for tool in toolset.tools.values()
            if visible_to is None or visible_to.allows_tool(tool.name)
        ]

    def resolve(self, name: str, *, visible_to: ClientKey | None = None) -> Tool:
        for candidate in self._candidates(name):
            tool = candidate.tools.get(name)
            if tool is not None and (visible_to is None or visible_to.allows_tool(name)):
                return tool
        raise ToolNotFound(f"There is no tool named '{name}'.", param="name")

    def definition(self, name: str, *, visible_to: ClientKey | None = None) -> dict[str, Any]:
        return self.resolve(name, visible_to=visible_to).definition()

    def _candidates(self, name: str) -> Iterable[Toolset]:
        # A tool's name starts with its toolset's, which may itself contain '_': try each split.
        for index, character in enumerate(name):
            if character == "_" and (toolset := self._toolsets.get(name[:index])) is not None:
                yield toolset

    # ------------------------------------------------------------------------------------------ invoking

    async def invoke(
        self,
        name: str,
        arguments: Any,
        *,
        request_id: str,
        deadline: float | None = None,
        visible_to: ClientKey | None = None,
        source: str = "api",
        headers: Mapping[str, str] | None = None,
    ) -> ToolResult:
        """Call a tool. The tool's own errors are a result with `is_error`; the router's failures raise
        (`InvalidToolArguments`, `ToolRateLimited`, `ToolError` and its kin), and every outcome is recorded.
        `deadline` is a `time.monotonic()` instant; `headers` go to the tool with this call only."""
        tool = self.resolve(name, visible_to=visible_to)
        toolset = self._toolsets[tool.toolset]
        started = time.monotonic()
        record = _Recorder(self, tool, request_id, visible_to, source, arguments)
        try:
            if not isinstance(arguments, dict):
                raise InvalidToolArguments("The arguments must be a JSON object.", param="arguments")
            problem = tool.schema.first_error(arguments)
            if problem is not None:
                where = problem.param("arguments")
                raise InvalidToolArguments(f"Invalid arguments at '{where}': {problem.message}", param=where)
            if tool.bucket is not None:
                admission = await self.limiter.admit(tool.bucket, None)
                if not admission.admitted:
                    raise ToolRateLimited(
                        f"The tool {tool.name} is over its rate limit of {tool.rate_limit} calls per minute.",
                        retry_after=admission.retry_after,
                    )
            output, attempts = await call_with_policy(
                tool, toolset.backend, arguments, deadline=deadline, headers=headers
            )
            _check_returns(tool, output)
        except RouterError as exc:
            await record.failed(exc, time.monotonic() - started)
            raise
        duration_ms = round((time.monotonic() - started) * 1000)
        result = ToolResult(
            id=record.id,
            tool=tool.name,
            is_error=output.is_error,
            content=output.content,
            structured_content=output.structured,
            truncated=output.truncated,
            duration_ms=duration_ms,
        )
        await record.succeeded(output, attempts, duration_ms)
        return result

    # ------------------------------------------------------------------------------------- administration

    async def register(self, body: bytes) -> Toolset:
        definition = self._parse(body)
        async with self._write:
            if definition.name in self._toolsets:
                raise self._exists(definition.name)
            toolset = await self._discover(definition, "api")
            self._check_names(toolset)
            if not await self.store.create(toolset.name, _stored(toolset)):
                raise self._exists(definition.name)
            self._install(toolset)
        return toolset

    async def replace(self, name: str, body: bytes) -> Toolset:
        definition = self._parse(body, name)
        async with self._write:
            self._writable(name)
            toolset = await self._discover(definition, "api")
            self._check_names(toolset)
            if not await self.store.replace(name, _stored(toolset)):
                raise ToolNotFound(f"There is no toolset named '{name}'.", param="name")
            self._install(toolset)
        return toolset

    async def remove(self, name: str) -> None:
        async with self._write:
            self._writable(name)
            await self.store.delete(name)
            self._uninstall(name)

    async def refresh(self, name: str) -> Toolset:
        """Find a toolset's tools again (an MCP server's list, an OpenAPI document from its URL)."""
        current = self.toolset(name)
        async with self._write:
            toolset = await self._discover(current.definition, current.source)
            self._check_names(toolset)
            if toolset.source == "api" and not await self.store.replace(name, _stored(toolset)):
                raise ToolNotFound(f"There is no toolset named '{name}'.", param="name")
            self._install(toolset)
        return toolset

    # ------------------------------------------------------------------------------------ keeping in step

    async def sync(self) -> None:
        """Pick up toolsets another worker or instance registered, replaced or removed."""
        await self._follower.sync()

    def _apply_stored(self, stored: dict[str, bytes]) -> None:
        for name, data in stored.items():
            current = self._toolsets.get(name)
            if current is not None and (current.source == "config" or current.stored == data):
                continue
            try:
                toolset = self._from_store(data)
            except (msgspec.DecodeError, msgspec.ValidationError, RouterError) as exc:
                log.warning("the stored toolset %r cannot be used: %s", name, getattr(exc, "message", exc))
                continue
            self._install(toolset)
        for name, toolset in list(self._toolsets.items()):
            if toolset.source == "api" and name not in stored:
                self._uninstall(name)

    async def _retry_failed_discovery(self) -> None:
        """Now and then, look again for the tools of config toolsets whose servers did not answer."""
        if time.monotonic() < self._retry_at:
            return
        self._retry_at = time.monotonic() + _RETRY_FAILED_DISCOVERY
        for toolset in [toolset for toolset in self._toolsets.values() if toolset.error]:
            self._install(await self._discover_config(toolset.definition))

    # ----------------------------------------------------------------------------------------- building

    def _parse(self, body: bytes, name: str | None = None) -> ToolsetDefinition:
        definition = parse_definition(
            body, allow_private_networks=self.settings.allow_private_networks, schemas=self.schemas
        )
        if name is not None and definition.name != name:
            raise InvalidToolDefinition(
                f"The body's name '{definition.name}' is not the toolset's name '{name}'.", param="name"
            )
        return definition

    async def _discover(self, definition: ToolsetDefinition, source: Source) -> Toolset:
        backend = self._backend(definition)
        try:
            specs = await backend.discover()
        except BaseException:
            await backend.aclose()
            raise
        return self._toolset(definition, source, backend, specs)

    async def _discover_config(self, definition: ToolsetDefinition) -> Toolset:
        try:
            return await self._discover(definition, "config")
        except (RouterError, OSError) as exc:
            message = getattr(exc, "message", str(exc))
            log.warning("could not find the tools of the toolset %r: %s", definition.name, message)
            toolset = Toolset(definition, "config", self._backend(definition), error=message)
            return toolset

    def _from_store(self, data: bytes) -> Toolset:
        stored = decode_stored(data)
        definition = decode_definition(stored.definition)
        toolset = self._toolset(definition, "api", self._backend(definition), stored.tools)
        toolset.updated_at = stored.updated_at
        toolset.stored = data
        return toolset

    def _backend(self, definition: ToolsetDefinition) -> Any:
        backend = build_backend(
            definition,
            self.egress,
            self.schemas,
            max_output_bytes=self.settings.max_output_bytes,
            max_document_bytes=self.settings.max_document_bytes,
        )
        self._learn_secrets(definition)
        return backend

    def _toolset(self, definition: ToolsetDefinition, source: Source, backend: Any, specs: list[ToolSpec]) -> Toolset:
        toolset = Toolset(definition, source, backend, build_tools(definition, specs, self.settings, self.schemas))
        if source == "api":
            toolset.stored = _stored(toolset)
        return toolset

    def _learn_secrets(self, definition: ToolsetDefinition) -> None:
        values = list(resolve_headers(definition.headers, "headers").values())
        for index, tool in enumerate(getattr(definition, "tools", ())):
            values += resolve_headers(tool.headers, f"tools[{index}].headers").values()
        # Header values are credentials more often than not: keep them out of every log line.
        self._secrets(*(value for value in values if len(value) >= 8))

    def _check_names(self, toolset: Toolset) -> None:
        for other in self._toolsets.values():
            if other.name == toolset.name:
                continue
            clash = set(other.tools) & set(toolset.tools)
            if clash:
                raise ToolsetConflict(
                    f"The tool name '{sorted(clash)[0]}' already belongs to the toolset '{other.name}'.",
                    param="name",
                    code="tool_name_taken",
                )

    def _install(self, toolset: Toolset) -> None:
        previous = self._toolsets.get(toolset.name)
        self._toolsets[toolset.name] = toolset
        if previous is not None and previous.backend is not toolset.backend:
            self._close_later(previous)

    def _uninstall(self, name: str) -> None:
        previous = self._toolsets.pop(name, None)
        if previous is not None:
            self._close_later(previous)

    def _close_later(self, toolset: Toolset) -> None:
        # A call may still be using the old backend (an MCP session): close it once calls in flight are done.
        async def close() -> None:
            try:
                await asyncio.sleep(_CLOSE_REPLACED_AFTER)
            finally:
                await toolset.backend.aclose()

        task = asyncio.create_task(close(), name=f"close toolset {toolset.name}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _writable(self, name: str) -> None:
        toolset = self.toolset(name)
        if toolset.source == "config":
            raise ToolsetConflict(
                f"The toolset '{name}' comes from the config file and cannot be changed through the API.",
                param="name",
                code="toolset_read_only",
            )

    def _exists(self, name: str) -> ToolsetConflict:
        return ToolsetConflict(f"A toolset named '{name}' already exists.", param="name")


class _Recorder:
    """Turns one invocation into its history entry, metrics and log line."""

    def __init__(
        self, registry: ToolRegistry, tool: Tool, request_id: str, key: ClientKey | None, source: str, arguments: Any
    ) -> None:
        self.registry = registry
        self.tool = tool
        self.id = f"call_{uuid.uuid4().hex[:24]}"
        self.request_id = request_id
        self.key = key.name if key is not None else None
        self.source = source
        self.arguments = arguments
        self.arguments_bytes = len(_encoder.encode(arguments))

    async def succeeded(self, output: ToolOutput, attempts: int, duration_ms: int) -> None:
        content = self.registry.settings.log_content
        await self._record(
            outcome="tool_error" if output.is_error else "success",
            is_error=output.is_error,
            duration_ms=duration_ms,
            output_bytes=output.size,
            truncated=output.truncated,
            attempts=attempts,
            output=text_of(output.content) if content else msgspec.UNSET,
        )

    async def failed(self, exc: RouterError, seconds: float) -> None:
        outcome: Outcome
        if isinstance(exc, InvalidToolArguments):
            outcome = "invalid_arguments"
        elif isinstance(exc, ToolRateLimited):
            outcome = "rate_limited"
        elif isinstance(exc, ToolTimeout):
            outcome = "timeout"
        elif isinstance(exc, ToolInvalidResponse):
            outcome = "invalid_response"
        elif isinstance(exc, ToolError):
            outcome = "unreachable"
        else:
            outcome = "invalid_response"
        await self._record(outcome=outcome, is_error=True, duration_ms=round(seconds * 1000), error=exc.message)

    async def _record(self, **fields: Any) -> None:
        content = self.registry.settings.log_content
        invocation = Invocation(
            id=self.id,
            request_id=self.request_id,
            tool=self.tool.name,
            toolset=self.tool.toolset,
            key=self.key,
            source=self.source,
            arguments_bytes=self.arguments_bytes,
            created_at=int(time.time()),
            arguments=self.arguments if content else msgspec.UNSET,
            **fields,
        )
        registry = self.registry
        if registry.observer is not None:
            registry.observer.tool_invoked(invocation)
        invocation_log.info(
            "tool %s %s in %d ms",
            invocation.tool,
            invocation.outcome,
            invocation.duration_ms,
            extra={"fields": msgspec.to_builtins(invocation)},
        )
        try:
            await registry.invocations.record(invocation)
        except Exception:  # the history is for watching; a failure to keep it must not fail the call
            log.exception("recording an invocation failed")


def _config_definition(
    name: str, table: dict[str, Any], settings: ToolSettings, schemas: SchemaCompiler
) -> ToolsetDefinition:
    """A `[toolsets.<name>]` table, validated; a problem stops the router with the setting it is in."""
    try:
        return parse_definition(
            {**table, "name": table.get("name", name)},
            allow_private_networks=settings.allow_private_networks,
            schemas=schemas,
        )
    except InvalidToolDefinition as exc:
        where = f"toolsets.{name}" + (f".{exc.param}" if exc.param else "")
        raise ConfigError(f"Invalid configuration at {where}: {exc.message}") from None


def _check_returns(tool: Tool, output: ToolOutput) -> None:
    if tool.returns_schema is None or output.is_error or output.truncated or output.structured is None:
        return
    problem = tool.returns_schema.first_error(output.structured)
    if problem is not None:
        where = f" at '{problem.path}'" if problem.path else ""
        raise ToolInvalidResponse(
            f"The tool {tool.name} answered with output that does not match its returns schema{where}: "
            f"{problem.message}"
        )


def _stored(toolset: Toolset) -> bytes:
    return encode_stored(toolset.definition, [tool.spec for tool in toolset.tools.values()], toolset.updated_at)
