"""Planning: the free alias through the provider's own hook, fallback lists, and a model list that is down."""

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
from providers.errors import InvalidRequest, UpstreamConnectionError, UpstreamUnavailable
from providers.openrouter import OpenRouterProvider, OpenRouterSettings
from providers.request import ChatRequest

from .support import DEEPSEEK_TABLE, OPENROUTER_BASE, OPENROUTER_CHAT, OPENROUTER_TABLE, assert_error, json_response
from .wire_examples import OPENROUTER_MODELS, openrouter_error

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence

    import respx

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

    def stream(self, request: ChatRequest, model: str) -> AsyncGenerator[ChatCompletionChunk, None]:
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


# ----------------------------------------------------------------------------- a model list that is down


async def test_an_unreachable_model_list_is_a_503_that_says_so() -> None:
    down = Pooled(UpstreamConnectionError("Could not connect to q (connection refused).", provider="q"))

    with pytest.raises(UpstreamUnavailable) as raised:
        await planner(down, free={"provider": "q"}).plan(request("free"))

    assert raised.value.http_status == 503
    assert raised.value.code == "model_list_unavailable"
    assert raised.value.message == (
        "The 'free' alias could not find q's free models. The model list of q could not be fetched: "
        "Could not connect to q (connection refused)."
    )
    assert raised.value.retry_after is not None
    assert 0 < raised.value.retry_after <= 30  # when the router will ask for the list again


async def test_an_unreachable_model_list_leaves_the_other_names_of_the_request() -> None:
    down = Pooled(UpstreamConnectionError("Could not connect to q.", provider="q"))

    plan = await planner(down, free={"provider": "q", "fallback": ["q/paid"]}).plan(request("free"))
    listed = await planner(down, free={"provider": "q"}).plan(request("free", models=["q/paid"]))

    assert [t.name for t in plan.targets] == ["q/paid"]
    assert [t.name for t in listed.targets] == ["q/paid"]


async def test_free_alias_through_the_app_when_openrouters_list_fails(
    make_client: Any, upstream: respx.MockRouter
) -> None:
    listing = upstream.get(f"{OPENROUTER_BASE}/models").mock(
        side_effect=[json_response(openrouter_error(500, "Internal error"), 500), json_response(OPENROUTER_MODELS)]
    )
    chat = upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(openrouter_error(400, "unused"), 400))
    providers = {"openrouter": OPENROUTER_TABLE, "deepseek": DEEPSEEK_TABLE}

    async with make_client(providers=providers) as client:
        response = await client.post(
            "/v1/chat/completions", json={"model": "free", "messages": [{"role": "user", "content": "Hi"}]}
        )

    error = assert_error(response, 503, code="model_list_unavailable")
    assert "could not find openrouter's free models" in error["message"]
    assert "openrouter answered 500: Internal error" in error["message"]
    assert response.headers["retry-after"] == "30"
    assert listing.call_count == 1
    assert chat.call_count == 0
