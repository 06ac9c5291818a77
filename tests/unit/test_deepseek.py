"""The DeepSeek adapter, through the app: roles, keep-alives, tool calls, usage, reasoning and errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from .support import (
    DEEPSEEK_CHAT,
    USER_HI,
    assembled_calls,
    assert_error,
    assert_stream_error,
    completion_of,
    finish_reasons,
    json_response,
    parse_sse,
    roles,
    sent_json,
    stream_of,
    streamed,
    text_of,
)
from .wire_examples import (
    DEEPSEEK_INSUFFICIENT_BALANCE_402,
    DEEPSEEK_KEY,
    DEEPSEEK_OPENAI_USAGE,
    DEEPSEEK_REASONING_NOT_PASSED_400,
    DEEPSEEK_RESOURCE_COMPLETION,
    DEEPSEEK_RESOURCE_STREAM,
    DEEPSEEK_STREAM_CALL_ID,
    DEEPSEEK_TEXT_COMPLETION,
    DEEPSEEK_TOOL_COMPLETION,
    DEEPSEEK_TOOL_STREAM,
)

if TYPE_CHECKING:
    import httpx
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

MODEL = "deepseek/deepseek-v4-flash"


async def post(client: Client, body: dict[str, Any] | bytes) -> httpx.Response:
    if isinstance(body, bytes):
        return await client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    return await client.post("/v1/chat/completions", json=body)


@pytest.fixture
def text_route(upstream: respx.MockRouter) -> respx.Route:
    return upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(DEEPSEEK_TEXT_COMPLETION))


# ------------------------------------------------------------------------------------------------ request


async def test_request_goes_to_chat_completions_with_key_and_unprefixed_model(
    client: Client, text_route: respx.Route
) -> None:
    response = await post(client, {"model": MODEL, "messages": USER_HI, "temperature": 0.2})

    assert response.status_code == 200, response.text
    request = text_route.calls.last.request
    assert str(request.url) == DEEPSEEK_CHAT
    assert request.headers["authorization"] == f"Bearer {DEEPSEEK_KEY}"
    assert "http-referer" not in request.headers
    assert "x-title" not in request.headers
    assert sent_json(text_route) == {"model": "deepseek-v4-flash", "messages": USER_HI, "temperature": 0.2}


async def test_developer_role_sent_as_system_other_messages_byte_identical(
    client: Client, text_route: respx.Route
) -> None:
    developer = b'{"role":"developer","content":[{"type":"text","text":"Answer in French."}],"name":"ops"}'
    user = b'{"role":"user","content":"caf\\u00e9 \xe4\xbd\xa0\xe5\xa5\xbd","name":"ann"}'
    assistant = (
        b'{"role":"assistant","content":null,"reasoning_content":"Call it.","tool_calls":[{"id":"call_00_x",'
        b'"type":"function","function":{"name":"f","arguments":"{\\"a\\": 1}"}}]}'
    )
    tool = b'{"role":"tool","tool_call_id":"call_00_x","content":"ok"}'
    second_developer = b'{"role":"developer","content":"Be brief."}'
    body = b'{"model":"%s","messages":[%s,%s,%s,%s,%s]}' % (
        MODEL.encode(),
        developer,
        user,
        assistant,
        tool,
        second_developer,
    )

    response = await post(client, body)

    assert response.status_code == 200, response.text
    sent = text_route.calls.last.request.content
    messages = json.loads(sent)["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "system"]
    assert messages[0] == {"role": "system", "content": [{"type": "text", "text": "Answer in French."}], "name": "ops"}
    assert messages[4] == {"role": "system", "content": "Be brief."}
    for unchanged in (user, assistant, tool):
        assert unchanged in sent
    assert b"developer" not in sent


async def test_body_without_developer_message_is_forwarded_as_sent(client: Client, text_route: respx.Route) -> None:
    body = (
        b'{"model":"%s","messages":[{"role":"system","content":"S"},{"role":"user","content":"U"}],'
        b'"thinking":{"type":"enabled"},"reasoning_effort":"high"}' % MODEL.encode()
    )

    response = await post(client, body)

    assert response.status_code == 200, response.text
    assert text_route.calls.last.request.content == body.replace(MODEL.encode(), b"deepseek-v4-flash")


async def test_reasoning_content_forwarded_upstream_untouched(client: Client, text_route: respx.Route) -> None:
    assistant = (
        b'{"role":"assistant","content":"","reasoning_content":"\xe4\xbd\x99\xe9\xa2\x9d\xe6\x9f\xa5\xe8\xaf\xa2",'
        b'"tool_calls":[{"id":"call_00_oNaYFdzFE2LrYatAn7252220","type":"function","function":'
        b'{"name":"get_user_balance","arguments":"{\\"user_id\\": \\"u-42\\"}"}}]}'
    )
    body = (
        b'{"model":"%s","messages":[{"role":"user","content":"Balance?"},%s,'
        b'{"role":"tool","tool_call_id":"call_00_oNaYFdzFE2LrYatAn7252220","content":"42 CNY"}]}'
        % (MODEL.encode(), assistant)
    )

    response = await post(client, body)

    assert response.status_code == 200, response.text
    assert text_route.calls.last.request.content == body.replace(MODEL.encode(), b"deepseek-v4-flash")


# ------------------------------------------------------------------------------------------ non-streaming


async def test_blank_keepalive_lines_before_the_body(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(b"\n\n\n\r\n\n" + DEEPSEEK_TEXT_COMPLETION))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    body = completion_of(response)
    message = body["choices"][0]["message"]
    assert message["content"] == "Hi!"
    assert message["reasoning_content"] == "Greet back."
    assert body["choices"][0]["finish_reason"] == "stop"


async def test_tool_completion_normalised(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(DEEPSEEK_TOOL_COMPLETION))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    body = completion_of(response)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["logprobs"] is None
    message = choice["message"]
    assert message["content"] is None
    assert message["refusal"] is None
    assert message["reasoning_content"] == "Two cities, two calls."
    assert message["tool_calls"] == [
        {
            "id": "call_00_Rk3bWq9sVt1mYc7nLp2xZa8d",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Hangzhou"}'},
        },
        {
            "id": "call_01_Hf6tPz0uLe4nQx9mWb3vKc5s",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Beijing"}'},
        },
    ]
    assert body["usage"] == {
        "prompt_tokens": 300,
        "completion_tokens": 40,
        "total_tokens": 340,
        "prompt_tokens_details": {"cached_tokens": 256},
        "completion_tokens_details": {"reasoning_tokens": 8},
    }
    assert body["system_fingerprint"] == "fp_8b330d02d0_prod0820_fp8_kvcache"


async def test_text_next_to_tool_calls_is_kept(client: Client, upstream: respx.MockRouter) -> None:
    wire = json.loads(DEEPSEEK_TOOL_COMPLETION)
    wire["choices"][0]["message"]["content"] = "Let me check both cities."
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(json.dumps(wire).encode()))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    message = completion_of(response)["choices"][0]["message"]
    assert message["content"] == "Let me check both cities."
    assert len(message["tool_calls"]) == 2


async def test_cache_hit_tokens_fill_cached_tokens_when_openai_details_are_absent(
    client: Client, upstream: respx.MockRouter
) -> None:
    wire = json.loads(DEEPSEEK_TEXT_COMPLETION)
    wire["usage"] = {
        "prompt_tokens": 80,
        "completion_tokens": 3,
        "total_tokens": 83,
        "prompt_cache_hit_tokens": 64,
        "prompt_cache_miss_tokens": 16,
    }
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(json.dumps(wire).encode()))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    assert completion_of(response)["usage"] == {
        "prompt_tokens": 80,
        "completion_tokens": 3,
        "total_tokens": 83,
        "prompt_tokens_details": {"cached_tokens": 64},
    }


async def test_insufficient_system_resource_is_an_error(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(DEEPSEEK_RESOURCE_COMPLETION))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    error = assert_error(response, 503, type_="server_error")
    assert "deepseek" in error["message"]


# -------------------------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("include_usage", [False, True])
async def test_tool_stream_capture(client: Client, upstream: respx.MockRouter, include_usage: bool) -> None:
    route = upstream.post(DEEPSEEK_CHAT).mock(side_effect=streamed(DEEPSEEK_TOOL_STREAM))
    request: dict[str, Any] = {"model": MODEL, "messages": USER_HI, "stream": True}
    if include_usage:
        request["stream_options"] = {"include_usage": True}

    response = await post(client, request)

    chunks = stream_of(response)
    assert "keep-alive" not in response.text
    assert roles(chunks) == ["assistant"]
    assert text_of(chunks, "reasoning_content") == "余额查询"
    assert text_of(chunks) == ""
    assert assembled_calls(chunks) == [
        {
            "id": DEEPSEEK_STREAM_CALL_ID,
            "type": "function",
            "name": "get_user_balance",
            "arguments": '{"user_id": "u-42"}',
        }
    ]
    assert finish_reasons(chunks) == ["tool_calls"]
    # The finish chunk carries no usage; usage comes, if asked, in its own chunk with no choices, last.
    finish_chunk = next(c for c in chunks if finish_reasons([c]))
    assert "usage" not in finish_chunk
    with_usage = [c for c in chunks if "usage" in c]
    if include_usage:
        assert with_usage == [chunks[-1]]
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"] == DEEPSEEK_OPENAI_USAGE
    else:
        assert with_usage == []
    assert "prompt_cache_hit_tokens" not in response.text
    assert sent_json(route)["stream_options"] == {"include_usage": True}


async def test_reasoning_content_in_text_stream_delta(client: Client, upstream: respx.MockRouter) -> None:
    body = DEEPSEEK_RESOURCE_STREAM.replace(b'"insufficient_system_resource"', b'"stop"').replace(
        b'{"content":"Par"}', b'{"content":null,"reasoning_content":"Think."}'
    )
    upstream.post(DEEPSEEK_CHAT).mock(side_effect=streamed(body))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    chunks = stream_of(response)
    assert text_of(chunks, "reasoning_content") == "Think."
    assert finish_reasons(chunks) == ["stop"]


async def test_insufficient_system_resource_mid_stream_is_an_error_event(
    client: Client, upstream: respx.MockRouter
) -> None:
    upstream.post(DEEPSEEK_CHAT).mock(side_effect=streamed(DEEPSEEK_RESOURCE_STREAM))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    assert response.status_code == 200
    error = assert_stream_error(response.text)
    assert error["type"] == "server_error"
    assert text_of(parse_sse(response.text)[:-1]) == "Par"
    assert finish_reasons(parse_sse(response.text)[:-1]) == []


# ------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_content_must_be_passed_back_400(
    client: Client, upstream: respx.MockRouter, stream: bool
) -> None:
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(DEEPSEEK_REASONING_NOT_PASSED_400, 400))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": stream})

    error = assert_error(response, 400, type_="invalid_request_error")
    assert "The `reasoning_content` in the thinking mode must be passed back to the API." in error["message"]
    assert "x-should-retry" not in response.headers


@pytest.mark.parametrize("stream", [False, True])
async def test_insufficient_balance_402(client: Client, upstream: respx.MockRouter, stream: bool) -> None:
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(DEEPSEEK_INSUFFICIENT_BALANCE_402, 402))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": stream})

    error = assert_error(response, 503, code="upstream_payment_required")
    assert "Insufficient Balance" in error["message"]
    assert "deepseek" in error["message"]


async def test_rejected_key_names_deepseek_api_key(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(DEEPSEEK_CHAT).mock(
        return_value=json_response(
            b'{"error":{"message":"Authentication Fails, Your api key: ****test is invalid",'
            b'"type":"authentication_error","param":null,"code":"invalid_request_error"}}',
            401,
        )
    )

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    error = assert_error(response, 502, code="upstream_authentication_failed")
    assert "DEEPSEEK_API_KEY" in error["message"]
    assert response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize(("status", "expected"), [(422, 422), (500, 502), (503, 503)])
async def test_other_documented_statuses(
    client: Client, upstream: respx.MockRouter, status: int, expected: int
) -> None:
    upstream.post(DEEPSEEK_CHAT).mock(
        return_value=json_response(
            b'{"error":{"message":"expected struct ThinkingOptions","type":"invalid_request_error",'
            b'"param":null,"code":"invalid_request_error"}}',
            status,
        )
    )

    response = await post(client, {"model": MODEL, "messages": USER_HI, "thinking": False})

    error = assert_error(response, expected)
    assert "expected struct ThinkingOptions" in error["message"]


@pytest.mark.parametrize(
    ("limits", "sent_limits"),
    [
        ({"max_completion_tokens": 64}, {"max_tokens": 64}),
        ({"max_tokens": 32, "max_completion_tokens": 64}, {"max_tokens": 32, "max_completion_tokens": 64}),
        ({"max_tokens": 32}, {"max_tokens": 32}),
    ],
)
async def test_max_completion_tokens_sent_as_max_tokens(
    client: Client, text_route: respx.Route, limits: dict[str, int], sent_limits: dict[str, int]
) -> None:
    response = await post(client, {"model": MODEL, "messages": USER_HI, **limits})

    assert response.status_code == 200, response.text
    sent = sent_json(text_route)
    assert {key: sent[key] for key in ("max_tokens", "max_completion_tokens") if key in sent} == sent_limits
