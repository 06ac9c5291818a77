"""The OpenRouter adapter, through the app: what is OpenRouter's own (requests passed on byte for byte,
attribution headers, `reasoning`, its error envelope and in-band failures, the model list and its cache). What
every provider must do is the conformance suite's (`test_provider_conformance.py`), run with OpenRouter's
captures among the others."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.openapi import assert_valid

from .support import (
    DEEPSEEK_TABLE,
    OPENROUTER_BASE,
    OPENROUTER_CHAT,
    OPENROUTER_TABLE,
    USER_HI,
    assert_error,
    assert_stream_error,
    completion_of,
    finish_reasons,
    json_response,
    sent_json,
    stream_of,
    streamed,
    text_of,
)
from .wire_examples import (
    OPENROUTER_200_ERROR_COMPLETION,
    OPENROUTER_FREE_TIER_429,
    OPENROUTER_KEY,
    OPENROUTER_MIDSTREAM_ERROR_STREAM,
    OPENROUTER_MIDSTREAM_SERVER_ERROR_STREAM,
    OPENROUTER_MODELS,
    OPENROUTER_REASONING_STREAM,
    openrouter_error,
    openrouter_text_completion,
)

if TYPE_CHECKING:
    import httpx
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

MODEL = "openrouter/meta-llama/llama-3.3-70b-instruct:free"
UPSTREAM_MODEL = "meta-llama/llama-3.3-70b-instruct:free"

# A conversation with a tool round trip, as the OpenAI SDK sends it (compact JSON): the assistant turn that
# called tools has `content: null`; the tool results answer by id.
TOOLS_RAW = (
    b'[{"type":"function","function":{"name":"get_weather","description":"Weather in a city",'
    b'"parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},'
    b'"required":["city"],"additionalProperties":false},"strict":true}},'
    b'{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}}]'
)
TOOL_CHOICE_RAW = b'{"type":"function","function":{"name":"get_weather"}}'
MESSAGES_RAW = (
    b'[{"role":"system","content":"Be brief."},'
    b'{"role":"user","content":"Weather in Paris and the time?"},'
    b'{"role":"assistant","content":null,"tool_calls":['
    b'{"id":"toolu_bdrk_01QmX7Sx5jLz3bUjKzpr1dT4","type":"function","function":{"name":"get_weather",'
    b'"arguments":"{\\"city\\": \\"Paris\\"}"}},'
    b'{"id":"call_00_Rk3bWq9sVt1mYc7nLp2xZa8d","type":"function","function":{"name":"get_time","arguments":"{}"}}]},'
    b'{"role":"tool","tool_call_id":"toolu_bdrk_01QmX7Sx5jLz3bUjKzpr1dT4","content":"18\\u00b0C, caf\\u00e9 weather"},'
    b'{"role":"tool","tool_call_id":"call_00_Rk3bWq9sVt1mYc7nLp2xZa8d","content":[{"type":"text","text":"12:00"}]}]'
)


@pytest.fixture
def chat_route(upstream: respx.MockRouter) -> respx.Route:
    return upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(openrouter_text_completion()))


async def post(client: Client, body: dict[str, Any] | bytes) -> httpx.Response:
    if isinstance(body, bytes):
        return await client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    return await client.post("/v1/chat/completions", json=body)


# ------------------------------------------------------------------------------------------------ request


async def test_base_url_with_trailing_slash(make_client: Any, chat_route: respx.Route) -> None:
    table = {**OPENROUTER_TABLE, "base_url": OPENROUTER_BASE + "/"}
    async with make_client(providers={"openrouter": table}) as client:
        response = await post(client, {"model": MODEL, "messages": USER_HI})
    assert response.status_code == 200
    assert str(chat_route.calls.last.request.url) == OPENROUTER_CHAT


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"app_url": "https://example.org/app", "app_title": "My Router"},
            {"http-referer": "https://example.org/app", "x-title": "My Router"},
        ),
        ({"app_url": "https://example.org/app"}, {"http-referer": "https://example.org/app"}),
        ({"app_title": "My Router"}, {"x-title": "My Router"}),
        ({}, {}),
    ],
)
async def test_attribution_headers_only_when_configured(
    make_client: Any, chat_route: respx.Route, extra: dict[str, str], expected: dict[str, str]
) -> None:
    async with make_client(providers={"openrouter": {**OPENROUTER_TABLE, **extra}}) as client:
        response = await post(client, {"model": MODEL, "messages": USER_HI})
    assert response.status_code == 200
    headers = chat_route.calls.last.request.headers
    sent = {name: headers[name] for name in ("http-referer", "x-title") if name in headers}
    assert sent == expected


async def test_tools_and_tool_history_forwarded_byte_identical(client: Client, chat_route: respx.Route) -> None:
    body = b'{"model":"%s","messages":%s,"tools":%s,"tool_choice":%s,"parallel_tool_calls":false}' % (
        MODEL.encode(),
        MESSAGES_RAW,
        TOOLS_RAW,
        TOOL_CHOICE_RAW,
    )
    response = await post(client, body)

    assert response.status_code == 200, response.text
    sent = chat_route.calls.last.request.content
    assert sent == body.replace(MODEL.encode(), UPSTREAM_MODEL.encode())


async def test_tools_forwarded_with_the_clients_own_formatting(client: Client, chat_route: respx.Route) -> None:
    # Pretty-printed JSON, escapes and key order as the client wrote them reach OpenRouter unchanged.
    tools = b'[ {"type": "function", "function": {"parameters": {"type": "object"}, "name": "f\\u0031"}} ]'
    body = b'{"model": "%s", "tools": %s, "messages": [ {"role": "user", "content": "x"} ]}' % (
        MODEL.encode(),
        tools,
    )
    response = await post(client, body)

    assert response.status_code == 200, response.text
    sent = chat_route.calls.last.request.content
    assert tools in sent
    assert b'[ {"role": "user", "content": "x"} ]' in sent


async def test_unknown_fields_and_nested_keys_pass_through(client: Client, chat_route: respx.Route) -> None:
    request = {
        "model": MODEL,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "A long document...", "cache_control": {"type": "ephemeral"}},
                    {"type": "image_url", "image_url": {"url": "https://example.org/a.png", "detail": "low"}},
                ],
            }
        ],
        "provider": {"order": ["Groq", "Together"], "allow_fallbacks": False, "sort": "throughput"},
        "plugins": [{"id": "web", "max_results": 3}],
        "reasoning": {"effort": "high", "exclude": False},
        "top_k": 40,
        "transforms": ["middle-out"],
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object"}, "x-vendor": {"a": 1}},
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "usage": {"include": True},
    }
    response = await post(client, request)

    assert response.status_code == 200, response.text
    assert sent_json(chat_route) == {**request, "model": UPSTREAM_MODEL}


async def test_openrouter_models_fallback_list_passes_through(client: Client, chat_route: respx.Route) -> None:
    request = {"model": MODEL, "messages": USER_HI, "models": ["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"]}

    response = await post(client, request)

    assert response.status_code == 200, response.text
    assert sent_json(chat_route) == {**request, "model": UPSTREAM_MODEL}


async def test_reasoning_content_sent_back_as_reasoning(client: Client, chat_route: respx.Route) -> None:
    user = b'{"role":"user","content":"caf\\u00e9?"}'
    assistant = (
        b'{"role":"assistant","content":null,"reasoning_content":"I need the weather.","tool_calls":[{"id":"c1",'
        b'"type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]}'
    )
    tool = b'{"role":"tool","tool_call_id":"c1","content":"sunny"}'
    body = b'{"model":"%s","messages":[%s,%s,%s]}' % (MODEL.encode(), user, assistant, tool)

    response = await post(client, body)

    assert response.status_code == 200, response.text
    sent = chat_route.calls.last.request.content
    messages = json.loads(sent)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "reasoning": "I need the weather.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    }
    # The messages the adapter does not rewrite go upstream as the client's own bytes.
    assert user in sent
    assert tool in sent
    assert b"reasoning_content" not in sent


# --------------------------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    "stream_options",
    [None, {"include_usage": False}, {"include_usage": True}, {"include_usage": False, "include_obfuscation": False}],
)
async def test_stream_always_requests_usage_upstream(
    client: Client, upstream: respx.MockRouter, stream_options: dict[str, bool] | None
) -> None:
    route = upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(OPENROUTER_REASONING_STREAM))
    request: dict[str, Any] = {"model": MODEL, "messages": USER_HI, "stream": True}
    if stream_options is not None:
        request["stream_options"] = stream_options

    response = await post(client, request)

    chunks = stream_of(response)
    sent = sent_json(route)
    assert sent["stream"] is True
    assert sent["stream_options"]["include_usage"] is True
    if stream_options and "include_obfuscation" in stream_options:
        assert sent["stream_options"]["include_obfuscation"] is False
    asked = bool(stream_options and stream_options["include_usage"])
    assert any("usage" in c for c in chunks) is asked


async def test_midstream_error_with_string_code(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(OPENROUTER_MIDSTREAM_SERVER_ERROR_STREAM))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    error = assert_stream_error(response.text)
    assert error["type"] == "server_error"
    assert "Provider disconnected" in error["message"]


async def test_error_chunk_before_any_answer_is_a_plain_http_error(client: Client, upstream: respx.MockRouter) -> None:
    # Nothing was sent to the client yet, so the router can still answer with the upstream's status.
    error_only = b": OPENROUTER PROCESSING\n\n" + OPENROUTER_MIDSTREAM_ERROR_STREAM.split(b"\n\n")[2] + b"\n\n"
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(error_only))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    error = assert_error(response, 429, type_="rate_limit_error")
    assert "Rate limit exceeded" in error["message"]


# openrouter-openapi.yaml ChatUsage: every completion_tokens_details counter is `integer | null`.
NULL_DETAILS_USAGE = {
    "prompt_tokens": 10,
    "completion_tokens": 15,
    "total_tokens": 25,
    "cost": None,
    "is_byok": False,
    "prompt_tokens_details": {"cached_tokens": 2},
    "completion_tokens_details": {
        "reasoning_tokens": None,
        "audio_tokens": None,
        "accepted_prediction_tokens": None,
        "rejected_prediction_tokens": None,
    },
}


async def test_null_usage_counters_in_a_completion(client: Client, upstream: respx.MockRouter) -> None:
    wire = json.loads(openrouter_text_completion("Paris."))
    wire["usage"] = NULL_DETAILS_USAGE
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(json.dumps(wire).encode()))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    body = completion_of(response)
    assert body["choices"][0]["message"]["content"] == "Paris."
    assert body["usage"]["total_tokens"] == 25


async def test_null_usage_counters_in_a_stream(client: Client, upstream: respx.MockRouter) -> None:
    body = OPENROUTER_REASONING_STREAM.replace(
        b'"completion_tokens_details":{"reasoning_tokens":5}',
        b'"completion_tokens_details":{"reasoning_tokens":null,"audio_tokens":null}',
    )
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(body))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    chunks = stream_of(response)
    assert text_of(chunks) == "Hello there!"
    assert finish_reasons(chunks) == ["stop"]


# ------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("upstream_status", "body", "headers", "status", "type_", "code", "said"),
    [
        (429, OPENROUTER_FREE_TIER_429, {"retry-after": "7"}, 429, "rate_limit_error", None, "free-models-per-day"),
        (
            400,
            openrouter_error(400, "max_tokens is too large", b"{}"),
            {},
            400,
            "invalid_request_error",
            None,
            "max_tokens is too large",
        ),
        (
            402,
            openrouter_error(402, "Insufficient credits", b"{}"),
            {},
            503,
            None,
            "upstream_payment_required",
            "Insufficient credits",
        ),
        (
            503,
            openrouter_error(503, "No endpoints found", b'{"error_type":"provider_unavailable"}'),
            {},
            503,
            None,
            "provider_unavailable",
            "No endpoints found",
        ),
        (
            502,
            openrouter_error(502, "Model is down", b'{"error_type":"provider_overloaded"}'),
            {},
            502,
            "server_error",
            "provider_overloaded",
            "Model is down",
        ),
        (
            408,
            openrouter_error(408, "Timed out", b'{"error_type":"timeout"}'),
            {},
            504,
            "timeout_error",
            "timeout",
            "Timed out",
        ),
    ],
)
async def test_error_envelope_mapped(
    client: Client,
    upstream: respx.MockRouter,
    stream: bool,
    upstream_status: int,
    body: bytes,
    headers: dict[str, str],
    status: int,
    type_: str | None,
    code: str | None,
    said: str,
) -> None:
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(body, upstream_status, **headers))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": stream})

    error = assert_error(response, status, code=code, type_=type_)
    assert said in error["message"]
    assert "openrouter" in error["message"]
    if "retry-after" in headers:
        assert response.headers["retry-after"] == headers["retry-after"]
    else:
        assert "retry-after" not in response.headers


async def test_rate_limit_retry_after_as_http_date_is_seconds(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(OPENROUTER_CHAT).mock(
        return_value=json_response(OPENROUTER_FREE_TIER_429, 429, **{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    assert_error(response, 429)
    assert response.headers["retry-after"] == "1"  # a date in the past: retry at once, never a negative wait


async def test_http_200_with_finish_reason_error_is_an_error_response(
    client: Client, upstream: respx.MockRouter
) -> None:
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(OPENROUTER_200_ERROR_COMPLETION))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    error = assert_error(response, 502, code="provider_unavailable")
    assert "Provider returned error" in error["message"]


async def test_http_200_with_finish_reason_error_and_no_error_object(
    client: Client, upstream: respx.MockRouter
) -> None:
    body = json.loads(OPENROUTER_200_ERROR_COMPLETION)
    del body["choices"][0]["error"]
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(json.dumps(body).encode()))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    assert_error(response, 502)


# ------------------------------------------------------------------------------------------------- models


@pytest.fixture
def deepseek_models(upstream: respx.MockRouter) -> respx.Route:
    return upstream.get("https://deepseek.test/models").mock(return_value=json_response(b'{"data":[]}'))


@pytest.mark.usefixtures("deepseek_models")
async def test_models_listed_under_the_prefix_and_cached(client: Client, upstream: respx.MockRouter) -> None:
    route = upstream.get(f"{OPENROUTER_BASE}/models").mock(return_value=json_response(OPENROUTER_MODELS))

    first = await client.get("/v1/models")
    second = await client.get("/v1/models")

    assert first.status_code == 200
    assert first.json() == second.json()
    listing = first.json()
    assert set(listing) == {"object", "data"}
    assert listing["object"] == "list"
    openrouter = [m for m in listing["data"] if m["id"].startswith("openrouter/")]
    assert openrouter == [
        {
            "id": "openrouter/meta-llama/llama-3.3-70b-instruct:free",
            "object": "model",
            "created": 1733506137,
            "owned_by": "openrouter",
        },
        {"id": "openrouter/openai/gpt-4", "object": "model", "created": 1692901234, "owned_by": "openrouter"},
    ]
    for model in listing["data"]:
        assert_valid_model(model)
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == f"Bearer {OPENROUTER_KEY}"


@pytest.mark.usefixtures("deepseek_models")
async def test_models_refreshed_in_the_background_after_their_ttl(make_client: Any, upstream: respx.MockRouter) -> None:
    listing = json.loads(OPENROUTER_MODELS)
    shorter = json.dumps({**listing, "data": listing["data"][:1]}).encode()
    listings = iter([OPENROUTER_MODELS])
    upstream.get(f"{OPENROUTER_BASE}/models").mock(side_effect=lambda _: json_response(next(listings, shorter)))
    table = {**OPENROUTER_TABLE, "models_cache_ttl": 0}

    def openrouter_ids(response: httpx.Response) -> list[str]:
        return [m["id"] for m in response.json()["data"] if m["id"].startswith("openrouter/")]

    async with make_client(providers={"openrouter": table, "deepseek": DEEPSEEK_TABLE}) as client:
        first = openrouter_ids(await client.get("/v1/models"))
        expired = openrouter_ids(await client.get("/v1/models"))  # answered at once, from the expired list
        for _ in range(200):  # the refresh lands in the background
            refreshed = openrouter_ids(await client.get("/v1/models"))
            if refreshed != first:
                break
            await asyncio.sleep(0.005)

    assert expired == first
    assert refreshed == first[:1]


@pytest.mark.usefixtures("deepseek_models")
async def test_concurrent_model_listings_fetch_once(client: Client, upstream: respx.MockRouter) -> None:
    async def slow_listing(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return json_response(OPENROUTER_MODELS)

    route = upstream.get(f"{OPENROUTER_BASE}/models").mock(side_effect=slow_listing)

    responses = await asyncio.gather(*(client.get("/v1/models") for _ in range(4)))

    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.text for r in responses}) == 1
    assert route.call_count == 1


@pytest.mark.usefixtures("deepseek_models")
async def test_retrieve_one_model_by_its_routable_id(client: Client, upstream: respx.MockRouter) -> None:
    upstream.get(f"{OPENROUTER_BASE}/models").mock(return_value=json_response(OPENROUTER_MODELS))

    found = await client.get("/v1/models/openrouter/meta-llama/llama-3.3-70b-instruct:free")
    missing = await client.get("/v1/models/openrouter/no/such-model")

    assert found.status_code == 200
    assert found.json()["id"] == "openrouter/meta-llama/llama-3.3-70b-instruct:free"
    assert_error(missing, 404, code="model_not_found")


async def test_models_of_a_failing_provider_do_not_hide_the_others(client: Client, upstream: respx.MockRouter) -> None:
    upstream.get(f"{OPENROUTER_BASE}/models").mock(
        return_value=json_response(openrouter_error(500, "Internal error"), 500)
    )
    upstream.get("https://deepseek.test/models").mock(
        return_value=json_response(
            b'{"object":"list","data":[{"id":"deepseek-v4-flash","object":"model","owned_by":"deepseek"}]}'
        )
    )

    response = await client.get("/v1/models")

    assert response.status_code == 200
    ids = [m["id"] for m in response.json()["data"]]
    assert "deepseek/deepseek-v4-flash" in ids
    assert "mock/text" in ids
    assert not any(i.startswith("openrouter/") for i in ids)


@pytest.mark.usefixtures("deepseek_models")
async def test_models_listing_follows_pagination(client: Client, upstream: respx.MockRouter) -> None:
    listing = json.loads(OPENROUTER_MODELS)
    pages = {
        None: {**listing, "data": listing["data"][:1], "links": {"next": "/api/v1/models?offset=1&limit=1"}},
        "1": {**listing, "data": listing["data"][1:], "links": {"next": None}},
    }

    def page(request: httpx.Request) -> httpx.Response:
        return json_response(json.dumps(pages[request.url.params.get("offset")]).encode())

    upstream.get(url__startswith=f"{OPENROUTER_BASE}/models").mock(side_effect=page)

    response = await client.get("/v1/models")

    ids = [m["id"] for m in response.json()["data"]]
    assert "openrouter/meta-llama/llama-3.3-70b-instruct:free" in ids
    assert "openrouter/openai/gpt-4" in ids


def assert_valid_model(model: dict[str, Any]) -> None:
    assert set(model) == {"id", "object", "created", "owned_by"}
    assert_valid(model, "Model")
