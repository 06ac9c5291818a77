"""What models exist: each configured provider's model list, cached, plus the configured aliases.

`GET /v1/models` lists them under routable ids (`<provider>/<model>`), and the planner reads what each
list says a model can do. A provider whose list cannot be fetched is left out (and asked again a little
later), so one unreachable provider never hides the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from providers.errors import UpstreamError, UpstreamUnavailable
from providers.schema import Model

if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.base import ModelInfo, Provider

__all__ = ["ModelCatalog"]

log = logging.getLogger(__name__)

_RETRY_FAILED_LIST_AFTER = 30.0


class ModelCatalog:
    """Provider model lists, each cached for its provider's `models_cache_ttl`.

    Only the first look at a provider waits for its list. After that, an expired list is still answered at
    once while a fresh one is fetched in the background, so no request on the routing path waits for a
    provider's (possibly large) model list to download again. A list that could not be fetched, with none
    fetched before, is asked for again at the next look after `_RETRY_FAILED_LIST_AFTER` seconds; until then
    `infos` raises why it failed, while listings leave the provider out.
    """

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = providers
        self._cache: dict[str, tuple[float, dict[str, ModelInfo]]] = {}
        self._failures: dict[str, UpstreamError] = {}  # why a provider has no list at all
        self._locks = {name: asyncio.Lock() for name in providers}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    async def infos(self, provider: Provider) -> list[ModelInfo]:
        """The provider's models; `UpstreamUnavailable` saying why when its list could not be fetched."""
        index = await self._index(provider)
        failure = self._failures.get(provider.name)
        if failure is not None:
            expires = self._cache[provider.name][0]
            raise UpstreamUnavailable(
                f"The model list of {provider.name} could not be fetched: {failure.message}",
                provider=provider.name,
                code="model_list_unavailable",
                retry_after=max(0.0, expires - time.monotonic()) or None,
            )
        return list(index.values())

    async def info(self, provider: Provider, model: str) -> ModelInfo | None:
        """What the provider's list says of one model (None when unlisted, or the list is unavailable)."""
        return (await self._index(provider)).get(model)

    async def models(self, aliases: list[str]) -> list[Model]:
        """Every model a client can name: aliases first, then each configured provider's models."""
        configured = [provider for provider in self._providers.values() if provider.configured]
        indexes = await asyncio.gather(*(self._index(provider) for provider in configured))
        listed = [Model(id=alias, owned_by="llm-router") for alias in aliases]
        for provider, index in zip(configured, indexes, strict=True):
            listed += [
                Model(
                    id=f"{provider.name}/{info.id}",
                    created=info.created,
                    owned_by=info.owned_by or provider.name,
                )
                for info in index.values()
            ]
        return listed

    async def _index(self, provider: Provider) -> dict[str, ModelInfo]:
        cached = self._cache.get(provider.name)
        if cached is not None and not self._due_after_failure(provider, cached[0]):
            if cached[0] <= time.monotonic() and provider.name not in self._refreshing:
                task = asyncio.create_task(self._refresh(provider), name=f"refresh {provider.name} models")
                self._refreshing[provider.name] = task
                task.add_done_callback(lambda _: self._refreshing.pop(provider.name, None))
            return cached[1]
        if not provider.configured:
            return {}
        async with self._locks[provider.name]:
            cached = self._cache.get(provider.name)  # another request may have fetched it meanwhile
            if cached is not None and not self._due_after_failure(provider, cached[0]):
                return cached[1]
            return await self._fetch(provider)

    def _due_after_failure(self, provider: Provider, expires: float) -> bool:
        # With no list to answer from, waiting for a fresh one beats answering "no models" once more.
        return provider.name in self._failures and expires <= time.monotonic()

    async def aclose(self) -> None:
        """Stop background refreshes (the transport they use is about to close)."""
        for task in list(self._refreshing.values()):
            task.cancel()
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def _refresh(self, provider: Provider) -> None:
        try:
            await self._fetch(provider)
        except Exception:
            log.exception("refreshing the models of %s failed", provider.name)

    async def _fetch(self, provider: Provider) -> dict[str, ModelInfo]:
        """Fetch a provider's list into the cache; on failure keep what there was, and ask again soon."""
        ttl = provider.settings.models_cache_ttl
        try:
            index = {info.id: info for info in await provider.list_models()}
        except UpstreamError as exc:
            log.warning("could not list the models of %s: %s", provider.name, exc.message)
            cached = self._cache.get(provider.name)
            if cached is None or provider.name in self._failures:
                self._failures[provider.name] = exc
            index, ttl = (cached[1] if cached else {}), min(ttl, _RETRY_FAILED_LIST_AFTER)
        else:
            self._failures.pop(provider.name, None)
        self._cache[provider.name] = (time.monotonic() + ttl, index)
        return index
