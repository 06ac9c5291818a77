"""The Messages API over HTTP, in-process: answers and streams from real upstream captures, client keys,
token counts, and every error in Anthropic's envelope with Anthropic's statuses."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from app.access import hash_key
from tests.support.anthropic import assert_anthropic_error, assert_count, assert_message, assert_stream, parse_events

from .support import DEEPSEEK_CHAT, OPENROUTER_CHAT, assert_error, json_response, sent_json, streamed
from .wire_examples import (
    DEEPSEEK_STREAM_CALL_ID,
    DEEPSEEK_TOOL_STREAM,
    OPENAI_PARALLEL_CALLS,
    OPENAI_PARALLEL_TOOLS_STREAM,
)

if TYPE_CHECKING:
    import httpx
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

WEATHER = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
KEY = "sk-llmr-unit-messages-key"
KEYS = {"agent": {"sha256": hash_key(KEY), "models": ["mock/*"]}}


def create(model: str, **fields: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 512,
        "messages": [{"role": "user", "content": "Weather in 'Paris'?"}],
        **fields,
    }


def message_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert_message(body)
    return body


def events_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_events(response.text)


def error_of(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    return assert_anthropic_error(body, kind)


# -------------------------------------------------------------------------------------------------- answers


async def test_a_tool_round_trip_through_the_mock(client: Client) -> None:
    first = await client.post("/v1/messages", json=create("mock/tool", tools=[WEATHER]))
    called = message_of(first)
    (tool_use,) = called["content"]
    assert (tool_use["name"], tool_use["input"], called["stop_reason"]) == (
        "get_weather",
        {"city": "Paris"},
        "tool_use",
    )
    assert first.headers["x-llm-router-target"] == "mock/tool"
    assert first.headers["request-id"] == first.headers["x-request-id"]

    messages = [
        {"role": "user", "content": "Weather in 'Paris'?"},
        {"role": "assistant", "content": called["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "Sunny"}]},
    ]
    answered = message_of(
        await client.post("/v1/messages", json=create("mock/tool", tools=[WEATHER], messages=messages))
    )

    assert answered["content"] == [{"type": "text", "text": "The tool returned: Sunny"}]
    assert answered["stop_reason"] == "end_turn"


async def test_deepseeks_streamed_reasoning_and_call_become_thinking_and_tool_use(
    client: Client, upstream: respx.MockRouter
) -> None:
    route = upstream.post(DEEPSEEK_CHAT).mock(side_effect=streamed(DEEPSEEK_TOOL_STREAM, sizes=(7, 13)))
    tool = {
        "name": "get_user_balance",
        "input_schema": {"type": "object", "properties": {"user_id": {"type": "string"}}},
    }

    response = await client.post(
        "/v1/messages",
        json=create(
            "deepseek/deepseek-v4-flash", stream=True, tools=[tool], thinking={"type": "enabled", "budget_tokens": 2048}
        ),
    )

    message = assert_stream(events_of(response))
    assert message["content"] == [
        {"type": "thinking", "thinking": "余额查询", "signature": ""},
        {"type": "tool_use", "id": DEEPSEEK_STREAM_CALL_ID, "name": "get_user_balance", "input": {"user_id": "u-42"}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 50,
        "output_tokens": 85,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 256,
    }
    sent = sent_json(route)
    assert (sent["max_tokens"], sent["reasoning_effort"], sent["stream_options"]) == (
        512,
        "low",
        {"include_usage": True},
    )
    assert "max_completion_tokens" not in sent


async def test_openais_parallel_streamed_calls_are_two_blocks(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(OPENAI_PARALLEL_TOOLS_STREAM, sizes=(5, 11)))
    tools = [{"name": name, "input_schema": {"type": "object"}} for _, name, _ in OPENAI_PARALLEL_CALLS]

    response = await client.post("/v1/messages", json=create("openrouter/openai/gpt-4o", stream=True, tools=tools))

    message = assert_stream(events_of(response))
    assert [(block["id"], block["name"], block["input"]) for block in message["content"]] == [
        (call_id, name, json.loads(arguments)) for call_id, name, arguments in OPENAI_PARALLEL_CALLS
    ]
    assert response.headers["x-llm-router-target"] == "openrouter/openai/gpt-4o"


async def test_a_failure_mid_stream_ends_with_an_error_event(client: Client) -> None:
    response = await client.post("/v1/messages", json=create("mock/stream-error", stream=True))

    events = events_of(response)
    assert_stream(events, failed=True)
    assert "message_stop" not in [event["type"] for event in events]


# --------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "body", "expected_status", "kind"),
    [
        (503, {"error": {"code": 503, "message": "No available provider"}}, 529, "overloaded_error"),
        (429, {"error": {"code": 429, "message": "Rate limit exceeded"}}, 429, "rate_limit_error"),
        (400, {"error": {"code": 400, "message": "Bad things"}}, 400, "invalid_request_error"),
        (500, {"error": {"code": 500, "message": "Internal Server Error"}}, 502, "api_error"),
        (402, {"error": {"code": 402, "message": "Insufficient credits"}}, 503, "api_error"),
    ],
)
async def test_upstream_failures_take_anthropics_statuses(
    client: Client, upstream: respx.MockRouter, status: int, body: dict[str, Any], expected_status: int, kind: str
) -> None:
    upstream.post(OPENROUTER_CHAT).mock(
        return_value=json_response(json.dumps(body).encode(), status, **{"retry-after": "3"})
    )

    response = await client.post("/v1/messages", json=create("openrouter/some/model"))

    error_of(response, expected_status, kind)
    if kind == "rate_limit_error":
        assert response.headers["retry-after"] == "3"
    if expected_status == 503:
        assert response.headers["x-should-retry"] == "false"


async def test_the_routers_own_refusals_take_anthropics_envelope(client: Client) -> None:
    missing = await client.post(
        "/v1/messages", json={"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}]}
    )
    bad_json = await client.post("/v1/messages", content=b"{not json", headers={"content-type": "application/json"})
    unknown = await client.post("/v1/messages", json=create("nowhere/model"))
    wrong_method = await client.get("/v1/messages")

    assert "max_tokens" in error_of(missing, 400, "invalid_request_error")["message"]
    error_of(bad_json, 400, "invalid_request_error")
    error_of(unknown, 404, "not_found_error")
    error_of(wrong_method, 405, "invalid_request_error")


async def test_an_unconfigured_provider_is_503_not_worth_retrying(make_client: Any) -> None:
    async with make_client(providers={}) as client:
        response = await client.post("/v1/messages", json=create("deepseek/deepseek-chat"))

    assert "DEEPSEEK_API_KEY" in error_of(response, 503, "api_error")["message"]
    assert response.headers["x-should-retry"] == "false"


async def test_a_body_over_the_limit_is_request_too_large(make_client: Any) -> None:
    async with make_client(max_request_bytes=2048) as client:
        response = await client.post("/v1/messages", json=create("mock/text", system="x" * 4096))

    error_of(response, 413, "request_too_large")


async def test_the_chat_endpoints_keep_openais_envelope(client: Client) -> None:
    response = await client.post("/v1/chat/completions", json={"model": "mock/text"})

    assert_error(response, 400)


# ------------------------------------------------------------------------------------------------ client keys


async def test_client_keys_work_as_x_api_key_and_refusals_are_anthropics(make_client: Any) -> None:
    async with make_client(keys=KEYS, providers={}) as client:
        served = await client.post("/v1/messages", json=create("mock/text"), headers={"x-api-key": KEY})
        no_key = await client.post("/v1/messages", json=create("mock/text"))
        wrong_key = await client.post("/v1/messages", json=create("mock/text"), headers={"x-api-key": "sk-wrong"})
        not_allowed = await client.post(
            "/v1/messages", json=create("deepseek/deepseek-chat"), headers={"x-api-key": KEY}
        )
        counted = await client.post("/v1/messages/count_tokens", json=create("mock/text"), headers={"x-api-key": KEY})
        chat = await client.post("/v1/chat/completions", json={"model": "mock/text", "messages": []})

    message_of(served)
    error_of(no_key, 401, "authentication_error")
    error_of(wrong_key, 401, "authentication_error")
    error_of(not_allowed, 403, "permission_error")
    assert counted.status_code == 200
    assert_error(chat, 401, code="invalid_api_key")


# ----------------------------------------------------------------------------------------------- count_tokens


async def test_count_tokens_estimates_without_calling_any_upstream(client: Client, upstream: respx.MockRouter) -> None:
    body = {"model": "deepseek/deepseek-chat", "system": "s" * 40, "messages": [{"role": "user", "content": "u" * 80}]}

    response = await client.post("/v1/messages/count_tokens", json=body)

    assert response.status_code == 200, response.text
    assert assert_count(response.json()).input_tokens == 30 + 4
    assert not upstream.calls


async def test_count_tokens_refuses_what_a_message_would_be_refused_for(client: Client) -> None:
    body = {
        "model": "mock/text",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    }

    response = await client.post("/v1/messages/count_tokens", json=body)

    assert "web_search" in error_of(response, 400, "invalid_request_error")["message"]
