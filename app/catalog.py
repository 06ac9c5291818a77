"""GET /v1/models: every model a client can name, from each configured provider's list, cached."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get

from app.services import services
from providers.errors import ModelNotFound, UpstreamError
from providers.schema import Model, ModelList

if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.base import Provider

__all__ = ["ModelCatalog", "list_models", "retrieve_model"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class ModelCatalog:
    """Provider model lists under routable ids (`<provider>/<model>`), each cached for its provider's TTL."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = providers
        self._cache: dict[str, tuple[float, list[Model]]] = {}
        self._locks = {name: asyncio.Lock() for name in providers}

    async def models(self) -> list[Model]:
        configured = [provider for provider in self._providers.values() if provider.configured]
        lists = await asyncio.gather(*(self._models_of(provider) for provider in configured))
        return [model for models in lists for model in models]

    async def _models_of(self, provider: Provider) -> list[Model]:
        cached = self._cache.get(provider.name)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with self._locks[provider.name]:
            cached = self._cache.get(provider.name)
            if cached and cached[0] > time.monotonic():
                return cached[1]
            try:
                listed = await provider.list_models()
            except UpstreamError as exc:
                # A provider that cannot list its models must not hide everyone else's; keep what we had.
                log.warning("could not list the models of %s: %s", provider.name, exc.message)
                return cached[1] if cached else []
            models = [
                Model(id=f"{provider.name}/{model.id}", created=model.created, owned_by=model.owned_by)
                for model in listed
            ]
            self._cache[provider.name] = (time.monotonic() + provider.settings.models_cache_ttl, models)
            return models


@get("/v1/models")
async def list_models(request: Request[Any, Any, Any]) -> Response[bytes]:
    models = await services(request).catalog.models()
    return Response(_encoder.encode(ModelList(data=models)), media_type="application/json")


@get("/v1/models/{model_id:path}")
async def retrieve_model(request: Request[Any, Any, Any], model_id: str) -> Response[bytes]:
    model_id = model_id.lstrip("/")
    for model in await services(request).catalog.models():
        if model.id == model_id:
            return Response(_encoder.encode(model), media_type="application/json")
    raise ModelNotFound(f"The model '{model_id}' does not exist.", param="model")
