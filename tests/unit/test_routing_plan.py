"""Planning: the free alias through the provider's own hook, and the request's own fallback list."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pydantic import SecretStr

from app.catalog import ModelCatalog
from app.routing import Planner
from app.settings import Settings
from providers.base import AliasModels, Capabilities, ModelInfo, Provider, ProviderSettings
from providers.errors import InvalidRequest
from providers.openrouter import OpenRouterProvider, OpenRouterSettings
from providers.request import ChatRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from providers.schema import ChatCompletion, ChatCompletionChunk

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def request(model: str, **fields: Any) -> ChatRequest:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], **fields}
    return ChatRequest.decode(json.dumps(body).encode())


class Pooled(Provider):
    """A provider with an alias of its own, `free`: every model whose id starts with `pool-`, one quota."""

    name = "q"

    def __init__(self, listed: list[ModelInfo] | Exception) -> None:
        super().__init__(ProviderSettings(), httpx.AsyncBaseTransport())
        self.listed = listed

    async def list_models(self) -> list[ModelInfo]:
        if isinstance(self.listed, Exception):
            raise self.listed
        return self.listed

    def expand_alias(self, alias: str, listed: Sequence[ModelInfo]) -> AliasModels | None:
        if alias != "free":
            return None
        return AliasModels([info for info in listed if info.id.startswith("pool-")], quota_group="q:pool")

    async def complete(self, request: ChatRequest, model: str) -> ChatCompletion:
        raise NotImplementedError

    def stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatCompletionChunk]:
        raise NotImplementedError


def planner(provider: Provider, **settings: Any) -> Planner:
    providers = {provider.name: provider}
    return Planner(providers, ModelCatalog(providers), Settings(**settings))


NO_TOOLS = Capabilities(tools=False)


# ------------------------------------------------------------------------------- the provider's alias hook


def test_openrouter_says_its_free_models_share_one_quota() -> None:
    settings = OpenRouterSettings(api_key=SecretStr("sk-or-test"))
    provider = OpenRouterProvider(settings, httpx.AsyncBaseTransport())
    listed = [ModelInfo("a/one:free"), ModelInfo("b/two"), ModelInfo("c/three:free")]

    free = provider.expand_alias("free", listed)

    assert free == AliasModels([listed[0], listed[2]], quota_group="openrouter:free")
    assert provider.expand_alias("cheap", listed) is None


async def test_the_free_alias_takes_its_models_and_quota_group_from_the_provider() -> None:
    listed = [ModelInfo("pool-a"), ModelInfo("other"), ModelInfo("pool-b", capabilities=NO_TOOLS)]
    plan = await planner(Pooled(listed), free={"provider": "q"}).plan(request("free", tools=[WEATHER]))

    # Only what the provider named, and only what can take this request (tools): the planner's own work.
    assert [(t.name, t.group) for t in plan.targets] == [("q/pool-a", "q:pool")]


async def test_the_free_alias_is_capped_at_max_models() -> None:
    listed = [ModelInfo(f"pool-{n}") for n in range(10)]
    plan = await planner(Pooled(listed), free={"provider": "q", "max_models": 3}).plan(request("free"))

    assert len(plan.targets) == 3


async def test_free_models_that_cannot_take_the_request_are_named_in_a_400() -> None:
    listed = [ModelInfo("pool-a", capabilities=NO_TOOLS)]

    with pytest.raises(InvalidRequest, match="none of the 1 free models of q takes a request with tools") as raised:
        await planner(Pooled(listed), free={"provider": "q"}).plan(request("free", tools=[WEATHER]))
    assert raised.value.code == "no_capable_target"


# ----------------------------------------------------------------------------- the request's `models` list


async def test_a_models_list_of_routable_names_is_followed_by_the_router_and_not_sent_upstream() -> None:
    plan = await planner(Pooled([])).plan(request("q/one", models=["q/two", "q/three"]))

    assert [t.name for t in plan.targets] == ["q/one", "q/two", "q/three"]
    assert "models" not in plan.request.fields


async def test_any_other_models_list_is_the_upstreams_and_goes_there_untouched() -> None:
    plan = await planner(Pooled([])).plan(request("q/one", models=["anthropic/claude-sonnet-4.5"]))

    assert [t.name for t in plan.targets] == ["q/one"]
    assert bytes(plan.request.fields["models"]) == b'["anthropic/claude-sonnet-4.5"]'
