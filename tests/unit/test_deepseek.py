"""The DeepSeek adapter, through the app: what is DeepSeek's own (roles, keep-alives, `reasoning_content` both
ways, cache counters, `max_tokens`, in-band failures, its other statuses). What every provider must do is the
conformance suite's (`test_provider_conformance.py`), run with DeepSeek's captures among the others."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from .support import (
    DEEPSEEK_CHAT,
    USER_HI,
    assert_error,
    completion_of,
    finish_reasons,
    json_response,
    sent_json,
    stream_of,
    streamed,
    text_of,
)
from .wire_examples import (
    DEEPSEEK_RESOURCE_COMPLETION,
    DEEPSEEK_RESOURCE_STREAM,
    DEEPSEEK_TEXT_COMPLETION,
    DEEPSEEK_TOOL_COMPLETION,
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


async def test_system_fingerprint_is_kept(client: Client, upstream: respx.MockRouter) -> None:
    # The rest of this answer's translation is the conformance suite's (test_provider_conformance.py).
    upstream.post(DEEPSEEK_CHAT).mock(return_value=json_response(DEEPSEEK_TOOL_COMPLETION))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    assert completion_of(response)["system_fingerprint"] == "fp_8b330d02d0_prod0820_fp8_kvcache"


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


async def test_reasoning_content_in_text_stream_delta(client: Client, upstream: respx.MockRouter) -> None:
    body = DEEPSEEK_RESOURCE_STREAM.replace(b'"insufficient_system_resource"', b'"stop"').replace(
        b'{"content":"Par"}', b'{"content":null,"reasoning_content":"Think."}'
    )
    upstream.post(DEEPSEEK_CHAT).mock(side_effect=streamed(body))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    chunks = stream_of(response)
    assert text_of(chunks, "reasoning_content") == "Think."
    assert finish_reasons(chunks) == ["stop"]


# ------------------------------------------------------------------------------------------------- errors


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
