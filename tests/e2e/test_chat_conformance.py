"""The conformance suite: every provider, through the real router, driven the way clients drive it.

Each test runs once per registered dialect of the scripted upstream (`tests.e2e.upstreams.DIALECTS`, through
the `dialect` fixture), whatever its wire format. It checks what the client gets, validated against OpenAI's
OpenAPI schemas, and what the upstream understood. What an OpenAI-dialect upstream receives byte for byte is
checked in `test_chat_passthrough.py`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pydantic
import pytest

from tests.e2e.chat_requests import (
    QUESTION,
    WEATHER,
    assert_exact_stream,
    calls_from_stream,
    function_calls,
    model,
    request,
)
from tests.e2e.sse import post_json, post_stream
from tests.e2e.upstreams.scenarios import ARGS, ARGS_2, REASONING, TEXT
from tests.support.openapi import assert_valid

if TYPE_CHECKING:
    from tests.e2e.upstreams import Dialect, Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

COMPLETION_FIELDS = {"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier"}


def completion(router: RouterProcess, dialect: Dialect, scenario: str, **fields: Any) -> dict[str, Any]:
    """A non-streamed answer, checked to be an exact OpenAI chat completion."""
    response = post_json(router.base_url, request(dialect, scenario, **fields))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert_valid(body, "CreateChatCompletionResponse")
    assert set(body) <= COMPLETION_FIELDS  # the provider's own fields are gone
    assert response.headers["x-llm-router-target"] == model(dialect, scenario)
    return body


# ------------------------------------------------------------------------------------------- non-streaming


def test_tool_call(router: RouterProcess, upstream: Upstream, dialect: Dialect) -> None:
    body = completion(router, dialect, "tool", tool_choice="auto", parallel_tool_calls=False)

    (choice,) = body["choices"]
    message = choice["message"]
    assert message["content"] is None
    assert message["refusal"] is None
    assert choice["finish_reason"] == "tool_calls"
    assert choice["logprobs"] is None
    (call,) = message["tool_calls"]
    assert set(call) == {"id", "type", "function"}  # DeepSeek's extra `index` is gone
    assert call["function"] == {"name": "get_weather", "arguments": ARGS}
    sent = upstream.last(dialect.name)
    assert call["id"] == sent.call_ids[0]  # upstream ids are kept: clients echo them back
    assert sent.asked is not None
    assert sent.asked.model == "tool"
    assert sent.asked.tools == ("get_weather", "get_stock_price")
    assert sent.asked.key == dialect.key


def test_parallel_tool_calls(router: RouterProcess, upstream: Upstream, dialect: Dialect) -> None:
    body = completion(router, dialect, "parallel")

    calls = body["choices"][0]["message"]["tool_calls"]
    assert [(call["function"]["name"], call["function"]["arguments"]) for call in calls] == [
        ("get_weather", ARGS),
        ("get_stock_price", ARGS_2),
    ]
    assert [call["id"] for call in calls] == list(upstream.last(dialect.name).call_ids)
    assert body["choices"][0]["finish_reason"] == "tool_calls"


def test_zero_argument_call_gets_an_empty_object(router: RouterProcess, dialect: Dialect) -> None:
    body = completion(router, dialect, "noargs")

    (call,) = body["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": "{}"}


def test_text_answer(router: RouterProcess, dialect: Dialect) -> None:
    body = completion(router, dialect, "text")

    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": TEXT, "refusal": None}
    assert choice["finish_reason"] == "stop"


def test_usage_is_openai_shaped(router: RouterProcess, dialect: Dialect) -> None:
    assert completion(router, dialect, "text")["usage"] == dialect.client_usage


def test_tool_round_trip(client: openai.OpenAI, upstream: Upstream, dialect: Dialect) -> None:
    first = client.chat.completions.create(model=model(dialect, "tool"), messages=QUESTION, tools=[WEATHER])
    (call,) = function_calls(first.choices[0].message)
    history: list[Any] = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21}'},
    ]

    answer = client.chat.completions.create(model=model(dialect, "tool"), messages=history, tools=[WEATHER])

    assert answer.choices[0].message.content == 'The tool said: {"temperature": 21}'
    assert answer.choices[0].finish_reason == "stop"
    asked = upstream.last(dialect.name).asked
    assert asked is not None
    assert asked.tool_result == '{"temperature": 21}'


def test_reasoning_reaches_the_client_and_goes_back(
    client: openai.OpenAI, upstream: Upstream, dialect: Dialect
) -> None:
    first = client.chat.completions.create(model=model(dialect, "reasoning"), messages=QUESTION, tools=[WEATHER])
    message = first.choices[0].message
    reasoning = (message.model_extra or {}).get("reasoning_content")
    assert reasoning == REASONING
    (call,) = function_calls(message)

    # The assistant message goes back as the client got it: `reasoning_content`, and `reasoning_details` where
    # the provider signs its reasoning (Anthropic).
    history: list[Any] = [
        *QUESTION,
        {"role": "assistant", "content": None, **(message.model_extra or {}), "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    client.chat.completions.create(model=model(dialect, "reasoning"), messages=history, tools=[WEATHER])

    # DeepSeek's thinking mode requires it back, and Anthropic its signed blocks; each takes it in its own way.
    asked = upstream.last(dialect.name).asked
    assert asked is not None
    assert asked.reasoning == reasoning


# ----------------------------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("tool", [("get_weather", ARGS)]),
        ("parallel", [("get_weather", ARGS), ("get_stock_price", ARGS_2)]),
        ("no-index", [("get_weather", ARGS), ("get_stock_price", ARGS_2)]),
        ("reused-index", [("get_weather", ARGS), ("get_stock_price", ARGS_2)]),
        ("whole-call", [("get_weather", ARGS)]),
        ("noargs", [("get_weather", "{}")]),
        ("reasoning", [("get_weather", ARGS)]),
    ],
)
def test_streamed_tool_calls_are_normalised(
    router: RouterProcess, upstream: Upstream, dialect: Dialect, scenario: str, expected: list[tuple[str, str]]
) -> None:
    stream = post_stream(router.base_url, request(dialect, scenario, stream=True))

    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.done
    assert not stream.errors
    assert_exact_stream(stream.chunks)
    assert all("usage" not in chunk for chunk in stream.chunks)  # not asked for
    calls = calls_from_stream(stream.chunks)
    assert sorted(calls) == list(range(len(expected)))
    assert [(calls[i]["name"], calls[i]["arguments"]) for i in sorted(calls)] == expected
    assert [calls[i]["id"] for i in sorted(calls)] == list(upstream.last(dialect.name).call_ids)
    if scenario == "whole-call":
        assert calls[0]["deltas"] == 1
    finish = [c["finish_reason"] for chunk in stream.chunks for c in chunk["choices"] if c["finish_reason"]]
    assert finish == ["tool_calls"]


def test_streamed_reasoning_reaches_the_client(router: RouterProcess, dialect: Dialect) -> None:
    stream = post_stream(router.base_url, request(dialect, "reasoning", stream=True))

    assert_exact_stream(stream.chunks)
    deltas = [choice["delta"] for chunk in stream.chunks for choice in chunk["choices"]]
    assert "".join(delta.get("reasoning_content") or "" for delta in deltas) == "The user wants the weather."
    assert all("reasoning" not in delta for delta in deltas)  # one name for it, OpenAI-style


def test_stream_usage_only_when_asked(router: RouterProcess, dialect: Dialect) -> None:
    asked = post_stream(router.base_url, request(dialect, "text", stream=True, stream_options={"include_usage": True}))
    not_asked = post_stream(router.base_url, request(dialect, "text", stream=True))

    assert_exact_stream(asked.chunks)
    *body, last = asked.chunks
    assert last["choices"] == []
    assert last["usage"] == dialect.client_usage
    assert all("usage" not in chunk for chunk in body)
    assert_exact_stream(not_asked.chunks)
    assert all("usage" not in chunk for chunk in not_asked.chunks)
    text = "".join(c["delta"].get("content") or "" for chunk in asked.chunks for c in chunk["choices"])
    assert text == TEXT + " "


def test_sdk_stream_helper_with_strict_pydantic_tool(client: openai.OpenAI, dialect: Dialect) -> None:
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
        final = stream.get_final_completion()

    (call,) = final.choices[0].message.tool_calls or []
    assert call.function.parsed_arguments == GetWeather(location="Paris, France", unit="celsius")
    assert final.choices[0].finish_reason == "tool_calls"


async def test_async_sdk_streaming(async_client: openai.AsyncOpenAI, dialect: Dialect) -> None:
    stream = await async_client.chat.completions.create(
        model=model(dialect, "text"), messages=QUESTION, stream=True, stream_options={"include_usage": True}
    )
    text, usage = "", None
    async for chunk in stream:
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
        usage = chunk.usage or usage

    assert text == TEXT + " "
    assert usage is not None
    assert usage.total_tokens == dialect.client_usage["total_tokens"]


# -------------------------------------------------------------------------------------------------- errors


def test_rate_limit_keeps_status_and_retry_after(client: openai.OpenAI, dialect: Dialect) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model=model(dialect, "rate-limited"), messages=QUESTION)

    assert raised.value.response.headers["retry-after"] == "7"
    assert_valid(raised.value.response.json(), "ErrorResponse")


def test_rejected_provider_key_is_a_server_error_naming_the_provider(
    client: openai.OpenAI, router: RouterProcess, upstream: Upstream, dialect: Dialect
) -> None:
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model=model(dialect, "bad-key"), messages=QUESTION)

    asked = upstream.last(dialect.name).asked
    assert asked is not None
    assert asked.key == dialect.key  # which the upstream's error message quotes
    response = raised.value.response
    assert response.status_code == 502
    assert response.headers["x-should-retry"] == "false"
    body = response.json()
    assert_valid(body, "ErrorResponse")
    assert dialect.name in body["error"]["message"]
    assert dialect.key_env in body["error"]["message"]
    assert dialect.key not in response.text
    assert dialect.key not in router.logs()


def test_invalid_request_keeps_the_upstreams_status_and_message(client: openai.OpenAI, dialect: Dialect) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=model(dialect, "bad-request"), messages=QUESTION)

    body = raised.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert "The `reasoning_content` in the thinking mode must be passed back" in body["error"]["message"]


@pytest.mark.parametrize(
    ("scenario", "error", "status"),
    [
        ("server-error", openai.InternalServerError, 502),
        ("slow", openai.InternalServerError, 504),
        ("bad-request", openai.BadRequestError, 400),
    ],
)
def test_upstream_failures_map_to_statuses(
    client: openai.OpenAI, dialect: Dialect, scenario: str, error: type[openai.APIStatusError], status: int
) -> None:
    with pytest.raises(error) as raised:
        client.chat.completions.create(model=model(dialect, scenario), messages=QUESTION)

    assert_valid(raised.value.response.json(), "ErrorResponse")
    assert raised.value.status_code == status


def test_failure_in_a_200_answer_is_an_error(client: openai.OpenAI, dialect: Dialect) -> None:
    if "answer" not in dialect.in_band_failures:
        pytest.skip(f"{dialect.name} never reports failures in a 200 answer")
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model=model(dialect, "error-in-200"), messages=QUESTION)

    assert_valid(raised.value.response.json(), "ErrorResponse")
    assert raised.value.status_code in (502, 503)


@pytest.mark.parametrize(("scenario", "status"), [("rate-limited", 429), ("server-error", 502), ("bad-key", 502)])
def test_errors_before_the_first_chunk_are_plain_http_errors(
    router: RouterProcess, dialect: Dialect, scenario: str, status: int
) -> None:
    stream = post_stream(router.base_url, request(dialect, scenario, stream=True))

    assert stream.status == status
    if scenario == "rate-limited":
        assert stream.headers["retry-after"] == "7"
    (error,) = stream.errors
    assert_valid(error, "ErrorResponse")
    assert dialect.key not in str(error)


@pytest.mark.parametrize("scenario", ["mid-stream-error", "error-in-200"])
def test_mid_stream_failure_is_an_error_event_not_a_clean_finish(
    client: openai.OpenAI, router: RouterProcess, dialect: Dialect, scenario: str
) -> None:
    if scenario == "error-in-200" and "stream" not in dialect.in_band_failures:
        pytest.skip(f"{dialect.name} reports failures before streaming")
    raw = post_stream(router.base_url, request(dialect, scenario, stream=True))
    assert raw.status == 200
    assert not raw.done
    (error,) = raw.errors
    assert_valid(error, "ErrorResponse")
    assert raw.chunks
    for chunk in raw.chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    assert all(c["finish_reason"] is None for chunk in raw.chunks for c in chunk["choices"])

    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model=model(dialect, scenario), messages=QUESTION, stream=True):
            pass


def test_client_disconnect_cancels_the_upstream_request(
    router: RouterProcess, upstream: Upstream, dialect: Dialect
) -> None:
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
