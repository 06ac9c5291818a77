"""The conformance suite: every provider, through the real router, driven the way clients drive it.

Each test runs once per dialect of the scripted upstream (see the `dialect` fixture). It checks what the
client gets (validated against OpenAI's OpenAPI schemas) and what the upstream received.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import openai
import pydantic
import pytest

from tests.e2e.conftest import UPSTREAM_KEYS
from tests.e2e.sse import post_json, post_stream
from tests.support.openapi import assert_valid

if TYPE_CHECKING:
    from tests.e2e.upstream import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
        "strict": False,
    },
}
STOCK = {
    "type": "function",
    "function": {
        "name": "get_stock_price",
        "parameters": {
            "type": "object",
            "properties": {"symbol": {"type": "string"}},
            "required": ["symbol"],
        },
        "strict": None,
    },
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


def model(dialect: str, scenario: str) -> str:
    return f"{dialect}/{scenario}"


def request(dialect: str, scenario: str, **fields: Any) -> dict[str, Any]:
    return {"model": model(dialect, scenario), "messages": QUESTION, "tools": [WEATHER, STOCK], **fields}


def calls_from_stream(chunks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Merge tool-call deltas the way OpenAI's SDKs do: by index, concatenating argument fragments."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            for delta in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(delta["index"], {"id": None, "name": None, "arguments": "", "deltas": 0})
                call["deltas"] += 1
                if "id" in delta:
                    assert call["id"] is None, f"id sent twice for index {delta['index']}"
                    call["id"] = delta["id"]
                    assert delta["type"] == "function"
                if "name" in delta.get("function", {}):
                    assert call["name"] is None, f"name sent twice for index {delta['index']}"
                    call["name"] = delta["function"]["name"]
                call["arguments"] += delta.get("function", {}).get("arguments") or ""
    return calls


def assert_exact_stream(chunks: list[dict[str, Any]]) -> None:
    """Every chunk is a valid OpenAI chunk; one id, one role, one finish reason."""
    assert chunks
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        assert set(chunk) <= {
            "id",
            "object",
            "created",
            "model",
            "choices",
            "usage",
            "system_fingerprint",
            "service_tier",
        }
    assert len({chunk["id"] for chunk in chunks}) == 1
    deltas = [choice["delta"] for chunk in chunks for choice in chunk["choices"]]
    assert sum("role" in delta for delta in deltas) == 1
    assert deltas[0].get("role") == "assistant"
    finishes = [choice["finish_reason"] for chunk in chunks for choice in chunk["choices"] if choice["finish_reason"]]
    assert len(finishes) == 1


# ------------------------------------------------------------------------------------------- non-streaming


def test_tool_call_non_streaming(router: RouterProcess, upstream: Upstream, dialect: str) -> None:
    response = post_json(router.base_url, request(dialect, "tool", tool_choice="auto", parallel_tool_calls=False))

    assert response.status_code == 200
    body = response.json()
    assert_valid(body, "CreateChatCompletionResponse")
    message = body["choices"][0]["message"]
    assert message["content"] is None
    assert message["refusal"] is None
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["logprobs"] is None
    (call,) = message["tool_calls"]
    assert set(call) == {"id", "type", "function"}  # DeepSeek's extra `index` is gone
    assert call["function"] == {
        "name": "get_weather",
        "arguments": '{"location": "Paris, France", "unit": "celsius"}',
    }
    prefix = "call_00_" if dialect == "deepseek" else "toolu_bdrk_"
    assert call["id"].startswith(prefix)  # upstream ids are kept: clients echo them back
    assert "provider" not in body
    assert response.headers["x-llm-router-target"] == f"{dialect}/tool"

    sent = upstream.last(dialect)
    assert sent.body["model"] == "tool"
    assert sent.body["tools"] == [WEATHER, STOCK]
    assert sent.body["tool_choice"] == "auto"
    assert sent.body["parallel_tool_calls"] is False
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEYS[dialect]}"


def test_tool_round_trip_history_reaches_upstream_intact(
    client: openai.OpenAI, upstream: Upstream, dialect: str
) -> None:
    first = client.chat.completions.create(model=model(dialect, "tool"), messages=QUESTION, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    history: list[Any] = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21}'},
    ]

    answer = client.chat.completions.create(model=model(dialect, "tool"), messages=history, tools=[WEATHER])

    assert answer.choices[0].message.content == 'The tool said: {"temperature": 21}'
    assert answer.choices[0].finish_reason == "stop"
    assert upstream.last(dialect).body["messages"] == json.loads(json.dumps(history))


def test_unknown_fields_pass_through(router: RouterProcess, upstream: Upstream, dialect: str) -> None:
    extra = {
        "provider": {"order": ["Together"], "allow_fallbacks": False},
        "plugins": [{"id": "web"}],
        "reasoning": {"effort": "low"},
        "thinking": {"type": "enabled"},
        "top_k": 40,
    }
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]
    body = {"model": model(dialect, "text"), "messages": messages, **extra}

    assert post_json(router.base_url, body).status_code == 200

    sent = upstream.last(dialect).body
    assert {key: sent[key] for key in extra} == extra
    assert sent["messages"] == messages


def test_developer_role(client: openai.OpenAI, upstream: Upstream, dialect: str) -> None:
    messages: list[Any] = [{"role": "developer", "content": "Be brief."}, *QUESTION]

    client.chat.completions.create(model=model(dialect, "text"), messages=messages)

    sent = upstream.last(dialect).body["messages"]
    assert sent[0] == {"role": "system" if dialect == "deepseek" else "developer", "content": "Be brief."}
    assert sent[1:] == QUESTION


def test_parallel_and_empty_arguments(client: openai.OpenAI, dialect: str) -> None:
    parallel = client.chat.completions.create(
        model=model(dialect, "parallel"), messages=QUESTION, tools=[WEATHER, STOCK]
    )
    noargs = client.chat.completions.create(model=model(dialect, "noargs"), messages=QUESTION, tools=[WEATHER])

    names = [call.function.name for call in parallel.choices[0].message.tool_calls or []]
    assert names == ["get_weather", "get_stock_price"]
    assert noargs.choices[0].message.tool_calls[0].function.arguments == "{}"


def test_usage_is_openai_shaped(router: RouterProcess, dialect: str) -> None:
    usage = post_json(router.base_url, request(dialect, "text")).json()["usage"]

    if dialect == "deepseek":
        assert usage == {
            "prompt_tokens": 306,
            "completion_tokens": 85,
            "total_tokens": 391,
            "prompt_tokens_details": {"cached_tokens": 256},
            "completion_tokens_details": {"reasoning_tokens": 31},
        }
    else:
        assert usage == {"prompt_tokens": 25, "completion_tokens": 55, "total_tokens": 80}


def test_reasoning_content_reaches_the_client_and_goes_back(
    client: openai.OpenAI, upstream: Upstream, dialect: str
) -> None:
    first = client.chat.completions.create(model=model(dialect, "reasoning"), messages=QUESTION, tools=[WEATHER])
    message = first.choices[0].message
    reasoning = (message.model_extra or {}).get("reasoning_content")
    assert reasoning == "The user wants the weather; call the tool."

    history: list[Any] = [
        *QUESTION,
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": reasoning,
            "tool_calls": [message.tool_calls[0].model_dump()],
        },
        {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "sunny"},
    ]
    client.chat.completions.create(model=model(dialect, "reasoning"), messages=history, tools=[WEATHER])

    assistant = upstream.last(dialect).body["messages"][1]
    # DeepSeek's thinking mode requires it back; OpenRouter takes it under its own name.
    key = "reasoning_content" if dialect == "deepseek" else "reasoning"
    assert assistant[key] == reasoning


# ----------------------------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    "scenario", ["tool", "parallel", "no-index", "reused-index", "whole-call", "noargs", "reasoning"]
)
def test_streamed_tool_calls_are_normalised(router: RouterProcess, dialect: str, scenario: str) -> None:
    stream = post_stream(router.base_url, request(dialect, scenario, stream=True))

    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.done
    assert not stream.errors
    assert_exact_stream(stream.chunks)
    assert all("usage" not in chunk for chunk in stream.chunks)  # not asked for
    calls = calls_from_stream(stream.chunks)
    expected = {
        "tool": [("get_weather", '{"location": "Paris, France", "unit": "celsius"}')],
        "whole-call": [("get_weather", '{"location": "Paris, France", "unit": "celsius"}')],
        "reasoning": [("get_weather", '{"location": "Paris, France", "unit": "celsius"}')],
        "noargs": [("get_weather", "{}")],
    }.get(
        scenario,
        [
            ("get_weather", '{"location": "Paris, France", "unit": "celsius"}'),
            ("get_stock_price", '{"symbol": "ACME"}'),
        ],
    )
    assert sorted(calls) == list(range(len(expected)))
    assert [(calls[i]["name"], calls[i]["arguments"]) for i in sorted(calls)] == expected
    assert all(call["id"] for call in calls.values())
    assert len({call["id"] for call in calls.values()}) == len(calls)
    if scenario == "whole-call":
        assert calls[0]["deltas"] == 1
    finish = [c["finish_reason"] for chunk in stream.chunks for c in chunk["choices"] if c["finish_reason"]]
    assert finish == ["tool_calls"]


def test_stream_usage_only_when_asked(router: RouterProcess, upstream: Upstream, dialect: str) -> None:
    asked = post_stream(router.base_url, request(dialect, "text", stream=True, stream_options={"include_usage": True}))
    not_asked = post_stream(router.base_url, request(dialect, "text", stream=True))

    assert_exact_stream(asked.chunks)
    *body, last = asked.chunks
    assert last["choices"] == []
    assert last["usage"]["total_tokens"] == (391 if dialect == "deepseek" else 80)
    assert all("usage" not in chunk for chunk in body)
    assert all("usage" not in chunk for chunk in not_asked.chunks)
    assert "".join(c["delta"].get("content") or "" for ch in asked.chunks for c in ch["choices"]) == (
        "Hello from the scripted upstream. "
    )
    # Usage is always requested upstream; the router decides what the client sees.
    assert upstream.last(dialect).body["stream_options"] == {"include_usage": True}


def test_sdk_stream_helper_with_strict_pydantic_tool(client: openai.OpenAI, dialect: str) -> None:
    class GetWeather(pydantic.BaseModel):
        location: str
        unit: str

    with client.chat.completions.stream(
        model=model(dialect, "tool"),
        messages=QUESTION,
        tools=[openai.pydantic_function_tool(GetWeather, name="get_weather")],
    ) as stream:
        for _ in stream:
            pass
        completion = stream.get_final_completion()

    call = completion.choices[0].message.tool_calls[0]
    assert call.function.parsed_arguments == GetWeather(location="Paris, France", unit="celsius")
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_async_sdk_streaming(async_client: openai.AsyncOpenAI, dialect: str) -> None:
    stream = await async_client.chat.completions.create(
        model=model(dialect, "text"), messages=QUESTION, stream=True, stream_options={"include_usage": True}
    )
    text, usage = "", None
    async for chunk in stream:
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
        usage = chunk.usage or usage

    assert text == "Hello from the scripted upstream. "
    assert usage is not None
    assert usage.total_tokens > 0


# -------------------------------------------------------------------------------------------------- errors


def test_rate_limit_keeps_status_and_retry_after(client: openai.OpenAI, dialect: str) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model=model(dialect, "rate-limited"), messages=QUESTION)

    assert raised.value.response.headers["retry-after"] == "7"
    assert_valid(raised.value.response.json(), "ErrorResponse")


def test_rejected_provider_key_is_a_server_error_naming_the_provider(
    client: openai.OpenAI, router: RouterProcess, dialect: str
) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model=model(dialect, "bad-key"), messages=QUESTION)

    response = raised.value.response
    assert response.status_code == 502
    assert response.headers["x-should-retry"] == "false"
    body = response.json()
    assert_valid(body, "ErrorResponse")
    assert dialect in body["error"]["message"]
    assert f"{dialect.upper()}_API_KEY" in body["error"]["message"]
    assert UPSTREAM_KEYS[dialect] not in response.text
    assert UPSTREAM_KEYS[dialect] not in router.logs()


@pytest.mark.parametrize(
    ("scenario", "error", "status"),
    [
        ("server-error", openai.InternalServerError, 502),
        ("slow", openai.InternalServerError, 504),
        ("error-in-200", openai.APIStatusError, None),
        ("bad-request", openai.BadRequestError, 400),
    ],
)
def test_upstream_failures_map_to_statuses(
    client: openai.OpenAI, dialect: str, scenario: str, error: type[openai.APIStatusError], status: int | None
) -> None:
    with pytest.raises(error) as raised:
        client.chat.completions.create(model=model(dialect, scenario), messages=QUESTION)

    assert_valid(raised.value.response.json(), "ErrorResponse")
    if status is not None:
        assert raised.value.status_code == status
    else:
        assert raised.value.status_code in (502, 503)


def test_errors_before_the_first_chunk_are_plain_http_errors(router: RouterProcess, dialect: str) -> None:
    stream = post_stream(router.base_url, request(dialect, "rate-limited", stream=True))

    assert stream.status == 429
    assert stream.headers["retry-after"] == "7"
    assert_valid(stream.errors[0], "ErrorResponse")


@pytest.mark.parametrize("scenario", ["mid-stream-error", "error-in-200"])
def test_mid_stream_failure_is_an_error_event_not_a_clean_finish(
    client: openai.OpenAI, router: RouterProcess, dialect: str, scenario: str
) -> None:
    if scenario == "error-in-200" and dialect == "deepseek":
        pytest.skip("DeepSeek reports failures before streaming")
    raw = post_stream(router.base_url, request(dialect, scenario, stream=True))
    assert raw.status == 200
    assert not raw.done
    (error,) = raw.errors
    assert_valid(error, "ErrorResponse")
    assert all(c["finish_reason"] is None for chunk in raw.chunks for c in chunk["choices"])

    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model=model(dialect, scenario), messages=QUESTION, stream=True):
            pass


def test_client_disconnect_cancels_the_upstream_request(
    router: RouterProcess, upstream: Upstream, dialect: str
) -> None:
    import time

    import httpx

    ends_before = len(upstream.stream_ends)
    with httpx.stream(
        "POST", f"{router.base_url}/chat/completions", json=request(dialect, "hang", stream=True)
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                break  # the first chunk arrived; now go away

    deadline = time.monotonic() + 5
    while len(upstream.stream_ends) == ends_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.stream_ends[ends_before:], "the upstream request is still open after the client left"
    assert upstream.stream_ends[-1].disconnected


# -------------------------------------------------------------------------------------------------- models


def test_models_list_includes_provider_models(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]

    assert "openrouter/meta-llama/llama-3.3-70b-instruct:free" in ids
    assert "deepseek/deepseek-chat" in ids
    assert "mock/tool" in ids
    assert client.models.retrieve("deepseek/deepseek-chat").owned_by == "deepseek"
