"""The provider contract: what an adapter must do, and what it declares about itself.

An adapter is a class registered under the `llm_router.providers` entry-point group. It translates one
provider's dialect to and from the router's neutral format (`providers.schema`) and does nothing else: no
retries, no fallback, no HTTP responses to clients. The whole surface is `complete`, `stream`,
`list_models`, `expand_alias` (for a provider with aliases of its own) and the class attributes below.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, PositiveInt, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence

    import httpx

    from providers.request import ChatRequest
    from providers.schema import ChatCompletion, ChatCompletionChunk

__all__ = ["AliasModels", "Capabilities", "ModelInfo", "Provider", "ProviderSettings"]

# What an API key may hold: visible ASCII.
_KEY = re.compile(r"[\x21-\x7e]*")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider's models can do, unless its model list or the configuration says otherwise."""

    tools: bool = True
    streaming: bool = True
    json_schema: bool = True
    vision: bool = True


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model as its provider lists it, with what the list says it can do (None: the list did not say)."""

    id: str
    created: int = 0
    owned_by: str | None = None
    context_length: int | None = None
    capabilities: Capabilities | None = None


@dataclass(frozen=True, slots=True)
class AliasModels:
    """The models one of a provider's own aliases stands for, and the rate limit they share."""

    models: list[ModelInfo]
    # Names one quota all of `models` draw on (a 429 from one is a 429 for all); None when each has its own.
    quota_group: str | None = None


class ProviderSettings(BaseSettings):
    """Settings every provider takes: from `<NAME>_*` environment variables, then `[providers.<name>]`.

    Subclasses set `env_prefix` (for example `OPENROUTER_`) and add their own fields. Values from the
    TOML file are passed as init arguments, so they override the environment.
    """

    model_config = SettingsConfigDict(extra="forbid", env_ignore_empty=True)

    api_key: SecretStr | None = None
    base_url: str = ""
    timeout: float = 600.0
    models_cache_ttl: float = 600.0
    max_response_bytes: PositiveInt = 32 * 1024 * 1024
    """The largest answer read whole (a completion, an error body, a page of the model list); past it the
    attempt fails with `upstream_response_too_large` and routing moves on. A completion of 128k tokens is
    well under 2 MiB; the bound keeps a misbehaving upstream from holding a worker's memory."""
    max_event_bytes: PositiveInt = 4 * 1024 * 1024
    """The largest stream event, and line of one, the router holds. A stream is passed on event by event, so
    this, not the stream's length, bounds its memory; 4 MiB leaves room for a whole answer or tool call
    sent in one event."""
    stream_idle_timeout: float = Field(default=300.0, gt=0)
    """Seconds a stream that has begun may go without a byte from the upstream (keep-alive comments count)
    before it is ended with an error event; without it, only `timeout` bounds a stalled stream."""

    @field_validator("api_key")
    @classmethod
    def _sendable_key(cls, key: SecretStr | None) -> SecretStr | None:
        # It goes in a header: a line break or space (a key pasted with its newline) would fail every request.
        if key is not None and not _KEY.fullmatch(key.get_secret_value()):
            raise ValueError("holds a space, line break or other character no key has (a trailing newline?)")
        return key

    @field_validator("base_url")
    @classmethod
    def _no_credentials(cls, base_url: str) -> str:
        # The key goes in an Authorization header, which the transport refuses to combine with URL credentials.
        if "@" in urlsplit(base_url).netloc:
            raise ValueError("must not contain credentials (user:password@); set the provider's key as api_key")
        return base_url


class Provider(ABC):
    """One upstream API, translated to and from the router's neutral format."""

    name: ClassVar[str]
    settings_class: ClassVar[type[ProviderSettings]] = ProviderSettings
    capabilities: ClassVar[Capabilities] = Capabilities()
    # The environment variable that holds the key, named in the error when it is missing.
    api_key_env: ClassVar[str | None] = None
    # A scripted provider (the offline mock) fails on purpose: its failures say nothing about its health.
    scripted: ClassVar[bool] = False

    def __init__(self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> None:
        self.settings = settings
        # The transport, not a client: the router sends requests and reads answers, and needs none of a
        # client's cookies, redirects or auth flows (which would cost time on every request).
        self.transport = transport

    @property
    def configured(self) -> bool:
        """Whether the provider can serve requests (it has a key, or needs none)."""
        return self.api_key_env is None or self.settings.api_key is not None

    @abstractmethod
    async def complete(self, request: ChatRequest, model: str) -> ChatCompletion:
        """Answer `request` with `model` (the id without the provider prefix) in one response."""

    @abstractmethod
    def stream(self, request: ChatRequest, model: str) -> AsyncGenerator[ChatCompletionChunk, None]:
        """Answer `request` as a stream of chunks (an async generator: `async def` with `yield`).

        Errors the upstream reports before its first chunk are raised by the first `__anext__`, so the
        caller can still answer with a plain HTTP error. `aclose()` cancels the upstream request.
        """

    async def list_models(self) -> list[ModelInfo]:
        """The models the provider offers, under their upstream ids (no prefix)."""
        return []

    def expand_alias(self, alias: str, listed: Sequence[ModelInfo]) -> AliasModels | None:
        """The models of `listed` that an alias of the provider's own (such as `free`) stands for.

        None when the provider has no such alias. The router still checks each model against what a
        request needs, and chooses and orders among them.
        """
        return None

    @classmethod
    def create(cls, table: dict[str, Any], transport: httpx.AsyncBaseTransport) -> Provider:
        """Build the provider from its TOML table, over its environment variables."""
        return cls(cls.settings_class(**table), transport)
