"""GET /v1/models and GET /v1/models/{id}: the aliases and provider models the client may name."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from app.access.gate import admit
from app.access.limits import RateLimiter
from app.agents.directory import AgentDirectory
from app.api.inject import Injected
from app.catalog import ModelCatalog
from app.context import current
from app.routing import Planner
from providers.errors import ModelNotFound
from providers.schema import ModelList

if TYPE_CHECKING:
    from providers.schema import Model

__all__ = ["list_models", "retrieve_model"]

_encoder = msgspec.json.Encoder()


@get("/v1/models")
async def list_models(
    catalog: Injected[ModelCatalog],
    planner: Injected[Planner],
    agents: Injected[AgentDirectory],
    limiter: Injected[RateLimiter],
) -> Response[bytes]:
    await admit(limiter)
    models = await _visible_models(catalog, planner, agents)
    return Response(_encoder.encode(ModelList(data=models)), media_type="application/json")


@get("/v1/models/{model_id:path}")
async def retrieve_model(
    model_id: FromPath[str],
    catalog: Injected[ModelCatalog],
    planner: Injected[Planner],
    agents: Injected[AgentDirectory],
    limiter: Injected[RateLimiter],
) -> Response[bytes]:
    model_id = model_id.lstrip("/")
    await admit(limiter)
    for model in await _visible_models(catalog, planner, agents):
        if model.id == model_id:
            return Response(_encoder.encode(model), media_type="application/json")
    raise ModelNotFound(f"The model '{model_id}' does not exist.", param="model")


async def _visible_models(catalog: ModelCatalog, planner: Planner, agents: AgentDirectory) -> list[Model]:
    """The models the current client may use: all of them on an open router."""
    models = await catalog.models([*planner.aliases(), *agents.names()])
    client = current().client
    return models if client is None else [model for model in models if client.allows(model.id)]
