"""Any server that speaks OpenAI's API, defined in the configuration file rather than in code.

    [providers.groq]
    type = "openai-compatible"
    base_url = "https://api.groq.com/openai/v1"
    api_key_env = "GROQ_API_KEY"
    quirks = { developer_as_system = true }

`compatible_provider(name, table, transport)` builds one: a subclass of the shared OpenAI-dialect codec
(`providers.openai_compat`) named after its table, so `groq/<model id>` routes like any installed provider.
Its settings are a provider's usual ones (read from `[providers.<name>]`, then `<NAME>_*` environment
variables) plus what a server needs said about it: where its key is (`api_key_env`; without one the
server needs no key), extra headers, what its models can do, and the quirks below, each off by default
and each a departure from OpenAI's API that some servers are known for.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import SettingsConfigDict

from providers.base import Capabilities, ProviderSettings
from providers.openai_compat import OpenAICompatibleProvider, rewrite_messages
from providers.pool import HEADER_NAME, HEADER_VALUE
from providers.schema import UNSET, AssistantMessage, DeveloperMessage

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import httpx

    from providers.request import ChatRequest
    from providers.schema import Message

__all__ = [
    "KIND",
    "NAME",
    "CompatibleProvider",
    "CompatibleSettings",
    "Quirks",
    "compatible_provider",
    "settings_class",
]

KIND = "openai-compatible"
# A provider's name is the prefix of its models (`<name>/<model id>`) and of its environment variables.
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

_SYSTEM = msgspec.Raw(b'"system"')
_EMPTY = msgspec.Raw(b'""')


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quirks(_Table):
    """Departures from OpenAI's API that a server needs; each is off unless the server needs it."""

    empty_content_with_tool_calls: bool = False
    """Send `"content": ""` instead of `null` on assistant messages that call tools (servers whose chat
    templates or validators refuse a null content, as some llama.cpp and vLLM versions do)."""
    no_parallel_tool_calls: bool = False
    """Leave out `parallel_tool_calls` (servers that refuse fields they do not know)."""
    no_stream_options: bool = False
    """Send no `stream_options` (servers that refuse it). Their streams may then carry no usage, and a
    client that asks for usage gets none."""
    developer_as_system: bool = False
    """Send `developer` messages as `system` (servers that know only the older roles)."""
    max_tokens_only: bool = False
    """Send `max_completion_tokens` as `max_tokens` (servers that know only the older name and would
    ignore the limit)."""
    no_reasoning_fields: bool = False
    """Leave `reasoning_content` and `reasoning_details` out of the assistant messages a client sends back
    (servers that refuse properties they do not know in a message, as Groq does): the reasoning of another
    provider's answer means nothing to them."""


class ModelCapabilities(_Table):
    """What the server's models can do, for aliases choosing a target (a model named directly is always tried)."""

    tools: bool = True
    streaming: bool = True
    json_schema: bool = True
    vision: bool = True


class CompatibleSettings(ProviderSettings):
    """`[providers.<name>]` with `type = "openai-compatible"`."""

    type: Literal["openai-compatible"]
    base_url: str = Field(min_length=1)
    """Where the server's OpenAI API is, up to `/v1` (requests go to `<base_url>/chat/completions`)."""
    api_key_env: str | None = None
    """The environment variable holding the server's key, sent as `Authorization: Bearer`. Without it (and
    without `api_key`) the server is taken to need no key."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers for every request, sent as written (keep keys in `api_key_env`, which is redacted)."""
    capabilities: ModelCapabilities = ModelCapabilities()
    quirks: Quirks = Quirks()

    @field_validator("headers")
    @classmethod
    def _sendable(cls, headers: dict[str, str]) -> dict[str, str]:
        # Checked here, so a header HTTP cannot carry stops the router at start with its name, rather than
        # failing every request to this server.
        for name, value in headers.items():
            if not HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)")
            if not HEADER_VALUE.fullmatch(value):
                raise ValueError(f"the value of {name!r} has a line break, control or non-ASCII character")
        return headers


class CompatibleProvider(OpenAICompatibleProvider):
    """A configured OpenAI-compatible server; `compatible_provider()` makes one class per table."""

    settings_class = CompatibleSettings

    def headers(self) -> dict[str, str]:
        settings = self.settings
        assert isinstance(settings, CompatibleSettings)
        return {**super().headers(), **{name.lower(): value for name, value in settings.headers.items()}}

    def adapt_fields(self, request: ChatRequest) -> dict[str, Any]:
        settings = self.settings
        assert isinstance(settings, CompatibleSettings)
        quirks = settings.quirks
        applies = _rewritten(quirks)
        fields = rewrite_messages(request, applies, lambda message: _rewrite(quirks, message)) if applies else {}
        params = request.params
        if quirks.no_parallel_tool_calls:
            fields["parallel_tool_calls"] = UNSET
        if quirks.max_tokens_only and isinstance(params.max_completion_tokens, int):
            if not isinstance(params.max_tokens, int):
                fields["max_tokens"] = params.max_completion_tokens
            fields["max_completion_tokens"] = UNSET
        return fields

    def payload(self, request: ChatRequest, model: str, *, stream: bool) -> bytes:
        settings = self.settings
        assert isinstance(settings, CompatibleSettings)
        if settings.quirks.no_stream_options:
            return request.upstream_body(model, **self.adapt_fields(request), stream_options=UNSET)
        return super().payload(request, model, stream=stream)


def settings_class(name: str) -> type[CompatibleSettings]:
    """The settings of the server named `name`: its table, then `<NAME>_*` variables (`lm-studio`: `LM_STUDIO_*`)."""
    prefix = name.upper().replace("-", "_") + "_"
    return type(
        f"{_title(name)}Settings",
        (CompatibleSettings,),
        {"model_config": SettingsConfigDict(env_prefix=prefix), "__module__": __name__},
    )


def compatible_provider(name: str, table: Mapping[str, Any], transport: httpx.AsyncBaseTransport) -> CompatibleProvider:
    """The provider `[providers.<name>]` defines (a pydantic `ValidationError` when the table is invalid)."""
    settings_of_name = settings_class(name)
    values = dict(table)
    key_env = values.get("api_key_env")
    if "api_key" not in values and isinstance(key_env, str) and os.environ.get(key_env):
        values["api_key"] = os.environ[key_env]
    settings = settings_of_name(**values)
    capabilities = settings.capabilities
    provider_class = type(
        f"{_title(name)}Provider",
        (CompatibleProvider,),
        {
            "name": name,
            "settings_class": settings_of_name,
            "api_key_env": settings.api_key_env,
            "capabilities": Capabilities(
                tools=capabilities.tools,
                streaming=capabilities.streaming,
                json_schema=capabilities.json_schema,
                vision=capabilities.vision,
            ),
            "__module__": __name__,
        },
    )
    provider: CompatibleProvider = provider_class(settings, transport)
    return provider


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


def _rewritten(quirks: Quirks) -> Callable[[Message], bool] | None:
    """Which messages the quirks rewrite (None: none)."""
    developer, empty, reasoning = (
        quirks.developer_as_system,
        quirks.empty_content_with_tool_calls,
        quirks.no_reasoning_fields,
    )
    if not (developer or empty or reasoning):
        return None

    def applies(message: Message) -> bool:
        if isinstance(message, DeveloperMessage):
            return developer
        if not isinstance(message, AssistantMessage):
            return False
        if empty and message.tool_calls and not message.content:
            return True
        return reasoning and (message.reasoning_content is not UNSET or message.reasoning_details is not UNSET)

    return applies


def _rewrite(quirks: Quirks, message: dict[str, msgspec.Raw]) -> None:
    """Apply every quirk that concerns `message` (one `_rewritten` selected), keeping the rest as sent."""
    if msgspec.json.decode(message["role"]) == "developer":
        message["role"] = _SYSTEM
        return
    if quirks.no_reasoning_fields:
        message.pop("reasoning_content", None)
        message.pop("reasoning_details", None)
    content = message.get("content")
    if (
        quirks.empty_content_with_tool_calls
        and "tool_calls" in message
        and (content is None or bytes(content) == b"null")
    ):
        message["content"] = _EMPTY
