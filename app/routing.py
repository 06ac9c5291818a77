"""Choosing where a request goes, and running it there.

A model name resolves to a `RouteTarget`: `openrouter/meta-llama/llama-3.3-70b-instruct` is the provider
`openrouter` and the upstream model `meta-llama/llama-3.3-70b-instruct`. The router runs a request against
its target and reports which target served it and in how many attempts. It works on typed requests and
responses only, never on JSON bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from providers.errors import ModelNotFound, ProviderNotConfigured

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from providers.base import Provider
    from providers.request import ChatRequest
    from providers.schema import ChatCompletion, ChatCompletionChunk

__all__ = ["ChunkStream", "RouteTarget", "Routed", "Router"]


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """One provider and one of its models."""

    provider: Provider
    model: str

    @property
    def name(self) -> str:
        """The routable id, `<provider>/<model>`."""
        return f"{self.provider.name}/{self.model}"


@dataclass(frozen=True, slots=True)
class Routed:
    """A complete answer and how it was obtained."""

    completion: ChatCompletion
    target: RouteTarget
    attempts: int = 1


class ChunkStream:
    """An upstream stream whose first chunk has already arrived, so it can no longer fail before starting."""

    def __init__(
        self,
        target: RouteTarget,
        first: ChatCompletionChunk | None,
        rest: AsyncIterator[ChatCompletionChunk],
        attempts: int = 1,
    ) -> None:
        self.target = target
        self.attempts = attempts
        self._first = first
        self._rest = rest

    async def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        async for chunk in self._rest:
            yield chunk

    async def aclose(self) -> None:
        """Stop the upstream request (a client that goes away must not keep it running)."""
        await self._rest.aclose()  # type: ignore[attr-defined]


class Router:
    """Resolves model names to targets and runs requests against them."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self.providers = providers

    def resolve(self, model: str) -> RouteTarget:
        prefix, _, upstream_model = model.partition("/")
        provider = self.providers.get(prefix) if upstream_model else None
        if provider is None:
            known = ", ".join(f"'{name}/<model id>'" for name in sorted(self.providers))
            raise ModelNotFound(
                f"The model '{model}' does not exist. Name a model as {known}.", param="model"
            )
        if not provider.configured:
            raise ProviderNotConfigured(
                f"The provider '{prefix}' is not configured: set {provider.api_key_env} (or api_key under "
                f"[providers.{prefix}] in the config file) where the router runs, then restart it.",
                param="model",
            )
        return RouteTarget(provider, upstream_model)

    async def complete(self, request: ChatRequest) -> Routed:
        target = self.resolve(request.params.model)
        return Routed(await target.provider.complete(request, target.model), target)

    async def open_stream(self, request: ChatRequest) -> ChunkStream:
        """Start a stream and wait for its first chunk: errors before that are raised here."""
        target = self.resolve(request.params.model)
        chunks = target.provider.stream(request, target.model)
        try:
            first = await anext(chunks, None)
        except BaseException:
            await chunks.aclose()  # type: ignore[attr-defined]
            raise
        return ChunkStream(target, first, chunks)
