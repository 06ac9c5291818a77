"""Configuration: environment variables, overridden by an optional TOML file.

The server's own settings read `LLM_ROUTER_*` variables; each provider's settings read its conventional
variables (`OPENROUTER_API_KEY`, `DEEPSEEK_BASE_URL`, ...) through its own settings class. A TOML file
(`--config FILE` or `LLM_ROUTER_CONFIG`) overrides both: top-level keys for the server, and a
`[providers.<name>]` table for each provider. See `llm-router.example.toml`. The shared-state store is the
one exception to the prefix: it is `REDIS_URL`, as hosting platforms name it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from pydantic_core import ErrorDetails

__all__ = [
    "AgentSettings",
    "AliasSettings",
    "CapabilityOverrides",
    "ClientKeySettings",
    "ConfigError",
    "DashboardSettings",
    "FreeModelSettings",
    "RedisSettings",
    "ResponseStoreSettings",
    "RoutingSettings",
    "SchemaSettings",
    "Settings",
    "TargetSettings",
    "ToolSettings",
    "load_settings",
    "settings_variable",
]

Strategy = Literal["priority", "weighted", "latency", "least-busy"]
ToolCallGuard = Literal["off", "retry", "fallback"]
LogFormat = Literal["text", "json"]

CONFIG_ENV = "LLM_ROUTER_CONFIG"
# Key names appear in logs and metric labels: plain words only.
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to fix."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapabilityOverrides(_Table):
    """What a target can do, when the provider's model list says otherwise or says nothing."""

    tools: bool | None = None
    json_schema: bool | None = None
    vision: bool | None = None


class TargetSettings(_Table):
    """One target of an alias: a routable model id and how to use it."""

    model: str = Field(pattern=r"^[^/]+/.+$")
    weight: float = Field(default=1.0, gt=0)
    """Share of requests under the `weighted` strategy."""
    max_concurrent: int | None = Field(default=None, ge=1)
    """Requests in flight to this target at most; a target at its limit is skipped."""
    timeout: float | None = Field(default=None, gt=0)
    """Seconds one attempt may take (the provider's timeout when unset)."""
    capabilities: CapabilityOverrides = CapabilityOverrides()


class AliasSettings(_Table):
    """`[models.<alias>]`: a name clients use for an ordered set of targets."""

    targets: list[TargetSettings] = Field(min_length=1)
    strategy: Strategy = "priority"
    max_attempts: int | None = Field(default=None, ge=1)
    """Attempts per target for transient failures (the routing default when unset)."""
    timeout: float | None = Field(default=None, gt=0)
    """Seconds for the whole request, across every attempt and target (the routing default when unset)."""
    tool_call_guard: ToolCallGuard = "fallback"
    """What to do when a model returns tool-call arguments that are not valid for the tool."""

    @field_validator("targets", mode="before")
    @classmethod
    def _targets_may_be_names(cls, targets: Any) -> Any:
        if isinstance(targets, list):
            return [{"model": target} if isinstance(target, str) else target for target in targets]
        return targets


class RoutingSettings(_Table):
    """`[routing]`: retry, deadline and circuit-breaker policy for every request."""

    max_attempts: int = Field(default=2, ge=1)
    """Attempts per target for transient failures (429, 5xx, connection errors, timeouts)."""
    timeout: float = Field(default=600.0, gt=0)
    """Seconds for a whole request, across every attempt and target; for a stream, until it starts."""
    backoff_initial: float = Field(default=0.2, ge=0)
    backoff_max: float = Field(default=5.0, ge=0)
    retry_after_cap: float = Field(default=10.0, ge=0)
    """A `Retry-After` up to this many seconds is waited out on the same target; longer ones move on."""
    failure_threshold: int = Field(default=5, ge=1)
    """Consecutive failures that open a target's circuit."""
    cooldown: float = Field(default=30.0, gt=0)
    """Seconds an open circuit waits before a probe request may try the target again."""
    rate_limit_cooldown: float = Field(default=2.0, gt=0)
    """Seconds a rate-limited target is left alone when the upstream did not say how long (no Retry-After)."""
    max_tracked_targets: int = Field(default=2000, ge=1)
    """Targets whose health the router remembers; past it, the least recently tried idle ones are forgotten."""


class FreeModelSettings(_Table):
    """`[free]`: the built-in alias that spreads requests over OpenRouter's free models."""

    enabled: bool = True
    alias: str = "free"
    provider: str = "openrouter"
    max_models: int = Field(default=8, ge=1)
    """Free models tried per request at most (before the fallback)."""
    fallback: list[str] = Field(default_factory=list)
    """Routable ids tried, in order, when no free model could answer (for example a paid model)."""
    tool_call_guard: ToolCallGuard = "fallback"


class ResponseStoreSettings(_Table):
    """`[responses]`: the store that `previous_response_id` continues from.

    Kept in Redis when `REDIS_URL` is set, shared by every worker and instance; otherwise, and while Redis is
    unreachable, in each worker's memory, which `max_entries` and `max_bytes` bound.
    """

    max_entries: int = Field(default=10_000, ge=1)
    max_bytes: int = Field(default=128 * 1024 * 1024, ge=1024)
    ttl: float = Field(default=3600.0, gt=0)
    """Seconds a stored response is kept."""


class ClientKeySettings(_Table):
    """`[keys.<name>]`: one client's key (only its SHA-256, from `llm-router hash-key`) and what it may do."""

    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    models: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    """Models and aliases the key may ask for; `*` matches anything (`openrouter/*`)."""
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    """Prompt plus completion tokens, as the upstreams count them."""
    tools: list[str] = Field(default_factory=list)
    """Registry tools the key may see and invoke (`weather_*`, `*`); none by default."""

    @field_validator("sha256")
    @classmethod
    def _lower_case(cls, digest: str) -> str:
        return digest.lower()


class RedisSettings(_Table):
    """`[redis]`: how the router uses the shared store that `REDIS_URL` names."""

    prefix: str = Field(default="llm-router", min_length=1)
    """Prefix of every key the router writes, so that several deployments can share one Redis."""
    timeout: float = Field(default=0.25, gt=0)
    """Seconds one Redis operation may take before the router falls back to its local state."""
    recheck_interval: float = Field(default=5.0, gt=0)
    """Seconds between attempts to reach Redis again while it is unreachable."""
    lease_ttl: float = Field(default=15.0, gt=0)
    """Seconds an attempt stays counted in flight after its worker last renewed it: what a request whose end
    Redis never heard of (an outage, a crashed instance) costs its target's `max_concurrent`."""
    lease_renew_interval: float = Field(default=5.0, gt=0)
    """Seconds between renewals of a worker's running attempts, all of them in one round trip."""

    @model_validator(mode="after")
    def _renewed_before_expiry(self) -> RedisSettings:
        if self.lease_renew_interval * 2 > self.lease_ttl:
            raise ValueError(
                f"lease_renew_interval ({self.lease_renew_interval:g}) must be at most half of lease_ttl "
                f"({self.lease_ttl:g}), so that one slow renewal does not let running attempts lapse"
            )
        return self


class ToolSettings(_Table):
    """`[tools]`: how the tool registry calls tools, and where it keeps toolsets registered through the API."""

    timeout: float = Field(default=30.0, gt=0)
    """Seconds one tool call may take, when its definition sets no `timeout` of its own."""
    max_output_bytes: int = Field(default=1024 * 1024, ge=1024)
    """A tool's answer is cut at this many bytes (the result says `truncated`)."""
    max_attempts: int = Field(default=1, ge=1)
    """Attempts per call when a definition sets no `max_attempts` (retried: connect errors, 429, 5xx)."""
    allow_private_networks: bool = True
    """Whether tools may live on private and loopback addresses (self-hosted n8n does). Link-local and cloud
    metadata addresses are always refused."""
    database: str | None = None
    """The SQLite file for toolsets and agents registered through the API; `tools.sqlite3` under the user's
    data directory when unset. Unused when `redis_url` is set."""
    sync_interval: float = Field(default=0.5, gt=0)
    """Seconds between checks for toolsets and agents changed by another worker or instance."""
    history: int = Field(default=1000, ge=1)
    """Invocations kept for `GET /v1/tools/invocations`."""
    log_content: bool = False
    """Record arguments and output in the invocation history and log (off: only sizes)."""
    max_document_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    """Largest OpenAPI document fetched from a URL."""
    mcp_allowed_origins: list[str] = Field(default_factory=list)
    """Browser origins allowed to call `POST /mcp` (requests without an `Origin` header are always allowed)."""
    mcp_server_urls: list[str] = Field(default_factory=list)
    """URL patterns (`https://mcp.example.com/*`) a Responses request's `mcp` tool may name in `server_url`;
    none by default. A URL that matches still names only a registered toolset whose `url` it is: the router
    never connects to a URL a client sends."""


class SchemaSettings(_Table):
    """`[schemas]`: bounds on the JSON Schemas clients and operators send (tool parameters), so that checking
    one, or a value against one, always takes bounded time and memory. A schema past a bound is refused."""

    max_values: int = Field(default=10_000, ge=10)
    """JSON values (objects, arrays, strings, numbers...) one schema may hold."""
    max_depth: int = Field(default=64, ge=4, le=256)
    """Levels a schema, or a value checked against one, may nest."""
    max_patterns: int = Field(default=32, ge=0)
    """Regular expressions (`pattern`, `patternProperties`) one schema may hold."""
    max_pattern_bytes: int = Field(default=256 * 1024, ge=1024)
    """Compiled size of one regular expression (a wide repetition such as `.{1,5000}` is large)."""
    cache_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    """Memory the compiled schemas kept for reuse may take (an estimate), least recently used out first."""


class DashboardSettings(_Table):
    """`[dashboard]`: the web dashboard at `/ui` and the recent requests it shows (on with an admin key)."""

    history: int = Field(default=1000, ge=10, le=100_000)
    """Recent requests kept for the live tail and `GET /admin/requests` (per worker; in Redis when configured)."""
    log_content: bool = False
    """Keep each request's body and answer (up to `content_bytes` each) with its record; off: only figures."""
    content_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)
    """The most of a request's body, and of its answer, kept when `log_content` is on."""
    update_interval: float = Field(default=1.0, ge=0.1, le=60)
    """Seconds between updates of open dashboards (every open dashboard gets the same update)."""
    share_interval: float = Field(default=0.5, ge=0.05, le=10)
    """Seconds between a worker's hand-overs of its recent requests to Redis, or to the other workers."""


class AgentSettings(_Table):
    """`[agents.<name>]`: a model name clients use for a model that runs registry tools itself."""

    model: str = Field(min_length=1)
    """The routable model or alias each round goes to (its routing, fallback and tool-call guard apply)."""
    tools: list[str] = Field(default_factory=list)
    """Registry tool names the agent may call; `*` matches anything (`weather_*`)."""
    instructions: str | None = None
    """A system message put before the conversation."""
    describe_toolsets: bool = False
    """Add the descriptions of the toolsets the agent's tools come from to its instructions."""
    description: str = ""
    max_rounds: int = Field(default=10, ge=1, le=100)
    """Rounds of tool calls at most; past them the answer stops with `finish_reason` `length`."""
    parallel_tool_calls: int = Field(default=4, ge=1, le=64)
    """Tool calls of one round run at once, at most."""
    tool_timeout: float | None = Field(default=None, gt=0)
    """Seconds one tool call may take (the tool's own timeout when unset)."""


class Settings(BaseSettings):
    """The router's own settings. Provider settings live in the provider adapters."""

    model_config = SettingsConfigDict(env_prefix="LLM_ROUTER_", extra="forbid", env_ignore_empty=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    pin_workers: bool = False
    """Keep each worker, every thread of it, on one CPU of those the server was started on, the workers spread
    over them in turn: less latency and CPU a request, for a server with its CPUs to itself (`app.affinity`)."""
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """Request bodies larger than this get 413."""
    body_timeout: float = Field(default=60.0, gt=0)
    """Seconds a client may take to send a request's body once its headers are in; a slower one gets 408."""
    header_timeout: float = Field(default=30.0, gt=0)
    """Seconds a client may take to send a request's headers, or to start its next request on a connection
    kept alive; then the connection is closed."""
    max_connections: int = Field(default=4096, ge=1)
    """Connections each worker holds open at once, idle ones included; further ones wait to be accepted."""
    max_requests_in_flight: int = Field(default=1024, ge=1)
    """Requests each worker serves at once, counted from when their body is in; further ones get 503."""
    log_level: str = "INFO"
    log_format: LogFormat = "text"
    """`json` writes one JSON object per line, for log collectors."""
    shutdown_timeout: float = Field(default=30.0, gt=0)
    """Seconds in-flight requests and streams may take to finish once the server is told to stop."""
    metrics_label_limit: int = Field(default=256, ge=0)
    """Model and target names (beyond the configured aliases and targets) that get a metric label of their own
    in each worker; later ones are counted together as `<provider>/other`, so clients cannot grow `/metrics`."""
    upstream_max_connections: int = Field(default=512, ge=1)
    """Connections the shared upstream client keeps open across all providers."""
    admin_key: SecretStr | None = None
    """Bearer key for the /admin endpoints; they are disabled without one."""
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """`[providers.<name>]` tables from the config file, each read by that provider's settings class."""
    models: dict[str, AliasSettings] = Field(default_factory=dict)
    """`[models.<alias>]` tables: names clients use for sets of targets."""
    routing: RoutingSettings = RoutingSettings()
    free: FreeModelSettings = FreeModelSettings()
    responses: ResponseStoreSettings = ResponseStoreSettings()
    keys: dict[str, ClientKeySettings] = Field(default_factory=dict)
    """`[keys.<name>]` tables: client keys. With none, the router serves anyone who can reach it."""
    redis_url: SecretStr | None = Field(default=None, validation_alias=AliasChoices("redis_url", "REDIS_URL"))
    """Redis shared by every worker and instance (rate limits, target health); local state without it."""
    redis: RedisSettings = RedisSettings()
    tools: ToolSettings = ToolSettings()
    schemas: SchemaSettings = SchemaSettings()
    dashboard: DashboardSettings = DashboardSettings()
    agents: dict[str, AgentSettings] = Field(default_factory=dict)
    """`[agents.<name>]` tables: models that run registry tools themselves."""
    toolsets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """`[toolsets.<name>]` tables: toolsets registered from the config file (validated by `app.tools`)."""

    @field_validator("host")
    @classmethod
    def _ip_address(cls, host: str) -> str:
        # The server binds exactly this address; it does not resolve names.
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"must be an IP address (127.0.0.1, 0.0.0.0, ::), not {host!r}") from None
        return host

    @field_validator("keys")
    @classmethod
    def _distinct_keys(cls, keys: dict[str, ClientKeySettings]) -> dict[str, ClientKeySettings]:
        for name in keys:
            if not _KEY_NAME.match(name):
                raise ValueError(f"the key name {name!r} must be letters, digits, '.', '_' or '-' (64 at most)")
        owners: dict[str, str] = {}
        for name, key in keys.items():
            if (other := owners.setdefault(key.sha256, name)) != name:
                raise ValueError(f"the keys {other!r} and {name!r} have the same sha256")
        return keys

    @model_validator(mode="after")
    def _agents_are_names_of_their_own(self) -> Settings:
        for name in self.agents:
            if not _KEY_NAME.match(name):
                raise ValueError(f"the agent name {name!r} must be letters, digits, '.', '_' or '-' (64 at most)")
            if name in self.models or name == self.free.alias:
                raise ValueError(f"the agent {name!r} has the name of an alias")
        return self


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, the TOML file (if any) and `overrides`, in rising priority.

    `overrides` are the command line's flags: an error in one is reported as `--name`.
    """
    path = config_file or os.environ.get(CONFIG_ENV)
    values: dict[str, Any] = {}
    if path:
        try:
            values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"The config file {path} does not exist.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from None
    flags = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**(values | flags))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, path, Settings, values, flags)) from None


def describe_validation_error(
    exc: ValidationError,
    source: str | os.PathLike[str] | None,
    model: type[BaseModel] | None = None,
    given: Mapping[str, Any] | None = None,
    flags: Collection[str] = (),
) -> str:
    """One clause per problem, for a person reading a start-up error.

    Each names the setting where it was set: a command-line flag (in `flags`), the file or table `source`
    (the values it holds are `given`), or else the environment variable `model` reads it from. An unknown key
    comes with the closest known one.
    """
    problems = "; ".join(
        f"{_origin(error['loc'], source, model, given, flags)}: {_problem(error, model)}" for error in exc.errors()
    )
    return f"Invalid configuration: {problems}."


def _origin(
    loc: tuple[int | str, ...],
    source: str | os.PathLike[str] | None,
    model: type[BaseModel] | None,
    given: Mapping[str, Any] | None,
    flags: Collection[str],
) -> str:
    dotted = ".".join(str(part) for part in loc) or "settings"
    name = str(loc[0]) if loc else ""
    if name in flags:
        return f"--{name.replace('_', '-')}" if len(loc) == 1 else dotted
    if given is None or name in given or (variable := settings_variable(model, name)) is None:
        return f"{dotted} in {source}" if source else dotted
    inner = ".".join(str(part) for part in loc[1:])
    return f"environment variable {variable}" + (f" ({inner})" if inner else "")


def settings_variable(model: type[BaseModel] | None, name: str) -> str | None:
    """The environment variable a settings class reads `name` from (None: not a settings field)."""
    if model is None or not issubclass(model, BaseSettings) or (field := model.model_fields.get(name)) is None:
        return None
    alias = field.validation_alias
    if isinstance(alias, str):
        return alias.upper()
    if isinstance(alias, AliasChoices):
        # The choice spelt like a variable (`REDIS_URL`), else the first.
        names = [choice for choice in alias.choices if isinstance(choice, str)]
        return next((choice for choice in names if choice.isupper()), names[0].upper() if names else None)
    return f"{model.model_config.get('env_prefix', '')}{name}".upper()


def _problem(error: ErrorDetails, model: type[BaseModel] | None) -> str:
    if error["type"] == "value_error":
        # Our validators' own words, without pydantic's "Value error, " before them.
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if error["type"] != "extra_forbidden":
        return error["msg"]
    loc = error["loc"]
    known = _keys_at(model, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1) if known else []
    return "not a known setting" + (f" (did you mean {close[0]!r}?)" if close else "")


def _keys_at(model: type[BaseModel] | None, path: tuple[int | str, ...]) -> list[str]:
    """The keys a table at `path` inside `model` may hold: through nested tables, `dict` values and lists."""
    annotation: Any = model
    for part in path:
        annotation = _table_type(annotation, part)
    table = _model_in(annotation)
    return list(table.model_fields) if table is not None else []


def _table_type(annotation: Any, part: int | str) -> Any:
    model = _model_in(annotation)
    if model is not None:
        field = model.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin is list and args:
        return args[0]
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model `annotation` names, itself or as the one model of a union (`X | None`)."""
    candidates = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    models = [each for each in candidates if isinstance(each, type) and issubclass(each, BaseModel)]
    return models[0] if len(models) == 1 else None
