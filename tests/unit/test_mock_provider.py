"""The built-in mock provider's scenarios, through the app, as a client would use them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from .support import (
    USER_HI,
    assembled_calls,
    assert_error,
    assert_stream_error,
    completion_of,
    finish_reasons,
    parse_sse,
    roles,
    stream_of,
    text_of,
)

if TYPE_CHECKING:
    import httpx
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
CUSTOMER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "create_customer",
        "parameters": {
            "type": "object",
            "properties": {
                "customer_name": {"type": "string"},
                "credit": {"type": "number"},
                "vip": {"type": "boolean"},
                "tier": {"enum": ["gold", "silver"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "note": {"type": "string"},
            },
            "required": ["customer_name", "credit", "vip", "tier", "tags"],
        },
    },
}
NO_PARAMS = {"type": "function", "function": {"name": "get_time"}}
EMPTY_PARAMS = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


async def chat(client: Client, model: str, **fields: Any) -> httpx.Response:
    fields.setdefault("messages", USER_HI)
    return await client.post("/v1/chat/completions", json={"model": f"mock/{model}", **fields})


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def only_call(body: dict[str, Any]) -> dict[str, Any]:
    calls: list[dict[str, Any]] = body["choices"][0]["message"]["tool_calls"]
    (call,) = calls
    return call


# ---------------------------------------------------------------------------------------------------- tool


async def test_tool_calls_the_named_tool_with_arguments_from_the_schema_and_hints(client: Client) -> None:
    response = await chat(
        client,
        "tool",
        messages=user("Weather in 'Zürich' for the next 3 days?"),
        tools=[CUSTOMER, WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )

    body = completion_of(response)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    call = only_call(body)
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Zürich", "days": 3}


async def test_tool_defaults_to_the_first_tool(client: Client) -> None:
    response = await chat(client, "tool", messages=user('Add "Ada Lovelace" with 12.5 credit'), tools=[CUSTOMER])

    arguments = json.loads(only_call(completion_of(response))["function"]["arguments"])
    assert arguments == {
        "customer_name": "Ada Lovelace",
        "credit": 12.5,
        "vip": True,
        "tier": "gold",
        "tags": ["Ada Lovelace"],
    }
    jsonschema.validate(arguments, CUSTOMER["function"]["parameters"])


async def test_tool_without_hints_still_valid_against_the_schema(client: Client) -> None:
    response = await chat(client, "tool", messages=user("hello"), tools=[WEATHER])

    arguments = json.loads(only_call(completion_of(response))["function"]["arguments"])
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])


async def test_tool_answers_in_text_after_a_tool_result(client: Client) -> None:
    first = completion_of(await chat(client, "tool", messages=user("Weather in 'Oslo'?"), tools=[WEATHER]))
    call = only_call(first)
    history = [
        *user("Weather in 'Oslo'?"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "7 degrees and rain"},
    ]

    second = completion_of(await chat(client, "tool", messages=history, tools=[WEATHER]))

    choice = second["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    assert "7 degrees and rain" in choice["message"]["content"]


async def test_tool_choice_none_answers_in_text(client: Client) -> None:
    response = await chat(client, "tool", tools=[WEATHER], tool_choice="none")

    choice = completion_of(response)["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"]


async def test_tool_streamed(client: Client) -> None:
    response = await chat(
        client,
        "tool",
        messages=user("Weather in 'Lima' for 2 days"),
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )

    chunks = stream_of(response)
    assert roles(chunks) == ["assistant"]
    (call,) = assembled_calls(chunks)
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Lima", "days": 2}
    assert finish_reasons(chunks) == ["tool_calls"]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0


# ------------------------------------------------------------------------------------------ parallel/noargs


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_calls_every_tool(client: Client, stream: bool) -> None:
    response = await chat(client, "parallel", messages=user("'Rome' 4"), tools=[WEATHER, EMPTY_PARAMS], stream=stream)

    if stream:
        chunks = stream_of(response)
        calls = [(c["name"], c["arguments"]) for c in assembled_calls(chunks)]
        ids = [c["id"] for c in assembled_calls(chunks)]
        assert finish_reasons(chunks) == ["tool_calls"]
    else:
        message = completion_of(response)["choices"][0]["message"]
        calls = [(c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]]
        ids = [c["id"] for c in message["tool_calls"]]
    assert [name for name, _ in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0][1]) == {"city": "Rome", "days": 4}
    assert json.loads(calls[1][1]) == {}
    assert len(set(ids)) == 2


@pytest.mark.parametrize("scenario", ["tool", "parallel"])
async def test_tool_without_parameters_gets_an_object(client: Client, scenario: str) -> None:
    response = await chat(client, scenario, messages=user("Time in 'Rome'?"), tools=[NO_PARAMS])

    for call in completion_of(response)["choices"][0]["message"]["tool_calls"]:
        assert json.loads(call["function"]["arguments"]) == {}


async def test_a_schema_that_requires_itself_still_gets_arguments(client: Client) -> None:
    tree = {
        "type": "function",
        "function": {
            "name": "walk",
            "parameters": {"type": "object", "properties": {"child": {"$ref": "#"}}, "required": ["child"]},
        },
    }
    response = await chat(client, "tool", messages=user("Walk"), tools=[tree])

    (call,) = completion_of(response)["choices"][0]["message"]["tool_calls"]
    assert "child" in json.loads(call["function"]["arguments"])


async def test_parallel_with_one_tool_calls_it_twice(client: Client) -> None:
    response = await chat(client, "parallel", tools=[WEATHER])

    calls = completion_of(response)["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_weather"]
    assert calls[0]["id"] != calls[1]["id"]


@pytest.mark.parametrize("stream", [False, True])
async def test_noargs_gives_an_empty_object(client: Client, stream: bool) -> None:
    response = await chat(client, "noargs", tools=[WEATHER], stream=stream)

    if stream:
        chunks = stream_of(response)
        (call,) = assembled_calls(chunks)
        assert (call["name"], call["arguments"]) == ("get_weather", "{}")
    else:
        call = only_call(completion_of(response))
        assert call["function"] == {"name": "get_weather", "arguments": "{}"}


# ---------------------------------------------------------------------------------------------------- text


async def test_text_echoes_the_user(client: Client) -> None:
    body = completion_of(await chat(client, "text", messages=user("ping")))

    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"].endswith("You said: ping")
    assert body["model"] == "mock/text"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


RECIPE = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "servings": {"type": "integer", "minimum": 1},
        "vegan": {"type": "boolean"},
        "ingredients": {"type": "array", "items": {"$ref": "#/$defs/ingredient"}},
        "difficulty": {"anyOf": [{"type": "null"}, {"enum": ["easy", "hard"]}]},
    },
    "required": ["title", "servings", "vegan", "ingredients", "difficulty"],
    "additionalProperties": False,
    "$defs": {
        "ingredient": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "grams": {"type": "number"}},
            "required": ["name", "grams"],
            "additionalProperties": False,
        }
    },
}


@pytest.mark.parametrize("stream", [False, True])
async def test_text_with_json_schema_gives_valid_json(client: Client, stream: bool) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "recipe", "schema": RECIPE, "strict": True}}

    response = await chat(
        client, "text", messages=user("A recipe for 4 called 'Dal'"), response_format=response_format, stream=stream
    )

    content = text_of(stream_of(response)) if stream else completion_of(response)["choices"][0]["message"]["content"]
    document = json.loads(content)
    jsonschema.validate(document, RECIPE)
    assert document["title"] == "Dal"
    assert document["servings"] == 4


async def test_text_with_json_object_gives_a_json_object(client: Client) -> None:
    response = await chat(client, "text", response_format={"type": "json_object"})

    document = json.loads(completion_of(response)["choices"][0]["message"]["content"])
    assert isinstance(document, dict)


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("stream", [False, True])
async def test_token_limit_finishes_with_length(client: Client, limit: str, stream: bool) -> None:
    response = await chat(client, "text", stream=stream, **{limit: 3})

    if stream:
        chunks = stream_of(response)
        content, reasons = text_of(chunks), finish_reasons(chunks)
    else:
        choice = completion_of(response)["choices"][0]
        content, reasons = choice["message"]["content"], [choice["finish_reason"]]
    assert reasons == ["length"]
    assert len(content.split()) == 3


async def test_stop_sequence_cuts_the_answer(client: Client) -> None:
    response = await chat(client, "text", stop=["mock"])

    choice = completion_of(response)["choices"][0]
    assert choice["message"]["content"] == "Hello from the llm-router "
    assert choice["finish_reason"] == "stop"


# ------------------------------------------------------------------------------------------------ failures


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limited(client: Client, stream: bool) -> None:
    response = await chat(client, "rate-limited", stream=stream)

    assert_error(response, 429, type_="rate_limit_error", code="rate_limit_exceeded")
    assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize("stream", [False, True])
async def test_server_error(client: Client, stream: bool) -> None:
    response = await chat(client, "server-error", stream=stream)

    error = assert_error(response, 502, type_="server_error")
    assert "mock" in error["message"]


async def test_stream_error_streams_then_fails(client: Client) -> None:
    response = await chat(client, "stream-error", stream=True)

    assert response.status_code == 200
    error = assert_stream_error(response.text)
    assert error["type"] == "server_error"
    chunks = parse_sse(response.text)[:-1]
    assert text_of(chunks)
    assert finish_reasons(chunks) == []


async def test_stream_error_without_streaming_fails_at_once(client: Client) -> None:
    assert_error(await chat(client, "stream-error"), 502)


async def test_unknown_scenario(client: Client) -> None:
    error = assert_error(await chat(client, "no-such-scenario"), 404, code="model_not_found")

    assert "mock/tool" in error["message"]


async def test_mock_needs_no_key_and_no_network(make_client: Any, upstream: respx.MockRouter) -> None:
    async with make_client(providers={}) as client:
        response = await chat(client, "text")
        models = await client.get("/v1/models")

    assert response.status_code == 200
    assert {m["id"] for m in models.json()["data"]} >= {
        "mock/text",
        "mock/tool",
        "mock/parallel",
        "mock/noargs",
        "mock/rate-limited",
        "mock/server-error",
        "mock/slow",
        "mock/stream-error",
    }
    assert not upstream.calls


async def test_slow_waits_the_configured_time(make_client: Any) -> None:
    async with make_client(providers={"mock": {"slow_seconds": 0.01}}) as client:
        response = await chat(client, "slow")

    assert completion_of(response)["choices"][0]["message"]["content"]
