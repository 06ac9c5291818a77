"""The Anthropic adapter, through the app: what is Anthropic's own. The request's translation to the Messages
API, thinking and its signatures both ways, stop reasons, the stream events OpenAI has no name for, the error
envelope and the model list. What every provider must do is the conformance suite's
(`test_provider_conformance.py`), run with Anthropic's captures among the others."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anthropic.types
import msgspec
import pydantic
import pytest

from providers.anthropic_answer import AnswerStream, Event
from providers.anthropic_request import uses_adaptive_thinking

from .support import (
    ANTHROPIC_BASE,
    ANTHROPIC_MESSAGES,
    ANTHROPIC_TABLE,
    USER_HI,
    assert_error,
    assert_stream_error,
    completion_of,
    json_response,
    parse_sse,
    sent_json,
    stream_of,
    streamed,
    text_of,
)
from .wire_examples import (
    ANTHROPIC_KEY,
    ANTHROPIC_MODELS,
    ANTHROPIC_OVERLOADED_529,
    ANTHROPIC_PARALLEL_MESSAGE,
    ANTHROPIC_PARALLEL_TOOLS_STREAM,
    ANTHROPIC_PROMPT_TOO_LONG_400,
    ANTHROPIC_STRUCTURED_MESSAGE,
    ANTHROPIC_TEXT_STREAM,
    ANTHROPIC_THINKING_MISSING_400,
    ANTHROPIC_THINKING_STREAM,
    ANTHROPIC_THINKING_TOOL_MESSAGE,
    ANTHROPIC_TOOL_STREAM,
    anthropic_error,
)

if TYPE_CHECKING:
    import contextlib
    from collections.abc import AsyncIterator, Callable

    import httpx
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]
    MakeClient = Callable[..., contextlib.AbstractAsyncContextManager[Client]]

MODEL = "anthropic/claude-sonnet-4-5"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
SIGNED = {
    "type": "reasoning.text",
    "text": "The user wants the weather.",
    "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxB",
    "format": "anthropic-claude-v1",
    "index": 0,
}
REDACTED = {"type": "reasoning.encrypted", "data": "EmwKAhgBEgy3va3pzix", "format": "anthropic-claude-v1", "index": 1}


@pytest.fixture
async def client(make_client: MakeClient) -> AsyncIterator[Client]:
    async with make_client(providers={"anthropic": ANTHROPIC_TABLE}) as test_client:
        yield test_client


@pytest.fixture
def messages_route(upstream: respx.MockRouter) -> respx.Route:
    return upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(ANTHROPIC_STRUCTURED_MESSAGE))


async def post(client: Client, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/chat/completions", json=body)


async def sent_for(client: Client, route: respx.Route, **request: Any) -> dict[str, Any]:
    """The body Anthropic receives for a chat request (`model` and `messages` default to MODEL and USER_HI)."""
    response = await post(client, {"model": MODEL, "messages": USER_HI, **request})
    assert response.status_code == 200, response.text
    return sent_json(route)


# ------------------------------------------------------------------------------------------------ request


async def test_headers_carry_the_key_and_the_api_version(client: Client, messages_route: respx.Route) -> None:
    await sent_for(client, messages_route)

    headers = messages_route.calls.last.request.headers
    assert headers["x-api-key"] == ANTHROPIC_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers
    assert "anthropic-beta" not in headers


async def test_configured_beta_features_are_sent(make_client: MakeClient, messages_route: respx.Route) -> None:
    table = {**ANTHROPIC_TABLE, "beta": ["context-1m-2025-08-07", "interleaved-thinking-2025-05-14"]}
    async with make_client(providers={"anthropic": table}) as client:
        await sent_for(client, messages_route)

    assert messages_route.calls.last.request.headers["anthropic-beta"] == (
        "context-1m-2025-08-07,interleaved-thinking-2025-05-14"
    )


async def test_a_conversation_with_tool_turns_becomes_anthropic_messages(
    client: Client, messages_route: respx.Route
) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}, {"type": "text", "text": ""}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather and time in Paris?"},
                {"type": "text", "text": ""},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.org/paris.jpg", "detail": "low"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "toolu_01A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {"id": "toolu_01B", "type": "function", "function": {"name": "get_time", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "18°C"},
        {
            "role": "tool",
            "tool_call_id": "toolu_01B",
            "content": [{"type": "text", "text": "timeout"}],
            "is_error": True,
        },
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": ""},
    ]

    sent = await sent_for(
        client,
        messages_route,
        messages=messages,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        max_completion_tokens=512,
        stop="END",
        temperature=1.5,
        top_p=0.9,
        user="user-42",
        seed=7,
        frequency_penalty=0.5,
    )

    assert sent == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Answer in French."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather and time in Paris?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.org/paris.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18°C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01B",
                        "content": [{"type": "text", "text": "timeout"}],
                        "is_error": True,
                    },
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather in a city",
                "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
                "strict": True,
            },
            {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
        ],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 1.0,  # Anthropic's maximum
        "top_p": 0.9,
        "metadata": {"user_id": "user-42"},
    }


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, None),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", None, {"type": "any"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_time"}}, None, {"type": "tool", "name": "get_time"}),
    ],
)
async def test_tool_choice(
    client: Client, messages_route: respx.Route, choice: Any, parallel: bool | None, expected: dict[str, Any] | None
) -> None:
    request: dict[str, Any] = {"tools": [WEATHER, TIME]}
    if choice is not None:
        request["tool_choice"] = choice
    if parallel is not None:
        request["parallel_tool_calls"] = parallel

    sent = await sent_for(client, messages_route, **request)

    assert sent.get("tool_choice") == expected


async def test_allowed_tools_send_only_the_tools_they_allow(client: Client, messages_route: respx.Route) -> None:
    allowed = {"mode": "required", "tools": [{"type": "function", "function": {"name": "get_time"}}]}

    sent = await sent_for(
        client, messages_route, tools=[WEATHER, TIME], tool_choice={"type": "allowed_tools", "allowed_tools": allowed}
    )

    assert [tool["name"] for tool in sent["tools"]] == ["get_time"]
    assert sent["tool_choice"] == {"type": "any"}


async def test_no_tools_no_tool_choice(client: Client, messages_route: respx.Route) -> None:
    sent = await sent_for(client, messages_route, tool_choice="required")

    assert "tools" not in sent
    assert "tool_choice" not in sent


async def test_json_schema_response_format_is_anthropics_structured_output(
    client: Client, messages_route: respx.Route
) -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}}, "additionalProperties": False}
    response_format = {"type": "json_schema", "json_schema": {"name": "order", "schema": schema, "strict": True}}

    sent = await sent_for(client, messages_route, response_format=response_format)

    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


async def test_anthropics_own_fields_go_as_sent(client: Client, messages_route: respx.Route) -> None:
    sent = await sent_for(
        client,
        messages_route,
        top_k=40,
        cache_control={"type": "ephemeral"},
        thinking={"type": "enabled", "budget_tokens": 2000},
        provider={"order": ["Anthropic"]},  # OpenRouter's, meaningless here: not sent
    )

    assert sent["top_k"] == 40
    assert sent["cache_control"] == {"type": "ephemeral"}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert "provider" not in sent


# ---------------------------------------------------------------------------------------------- thinking


@pytest.mark.parametrize(
    ("model", "adaptive"),
    [
        ("claude-opus-4-6", True),
        ("claude-sonnet-4-6-20260217", True),
        ("claude-opus-4-7", True),
        ("claude-sonnet-5", True),
        ("claude-mythos-preview", True),
        ("claude-sonnet-4-5-20250929", False),
        ("claude-opus-4-20250514", False),
        ("claude-opus-4-1", False),
        ("claude-haiku-4-5", False),
        ("claude-3-7-sonnet-20250219", False),
        ("deepseek-chat", False),
    ],
)
def test_which_models_think_adaptively(model: str, adaptive: bool) -> None:
    assert uses_adaptive_thinking(model) is adaptive


@pytest.mark.parametrize(
    ("request_fields", "thinking", "max_tokens"),
    [
        ({"reasoning_effort": "low"}, {"type": "enabled", "budget_tokens": 2048}, 4096 + 2048),
        ({"reasoning_effort": "high"}, {"type": "enabled", "budget_tokens": 16384}, 4096 + 16384),
        ({"reasoning_effort": "high", "max_tokens": 20000}, {"type": "enabled", "budget_tokens": 16384}, 20000),
        ({"reasoning_effort": "high", "max_completion_tokens": 8000}, {"type": "enabled", "budget_tokens": 4000}, 8000),
        ({"reasoning_effort": "medium", "max_tokens": 1500}, None, 1500),  # no room for Anthropic's 1024 minimum
        ({"reasoning_effort": "none"}, None, 4096),
        ({}, None, 4096),
    ],
)
async def test_reasoning_effort_is_a_thinking_budget(
    client: Client,
    messages_route: respx.Route,
    request_fields: dict[str, Any],
    thinking: dict[str, Any] | None,
    max_tokens: int,
) -> None:
    sent = await sent_for(client, messages_route, temperature=0.3, **request_fields)

    assert sent.get("thinking") == thinking
    assert sent["max_tokens"] == max_tokens
    assert ("temperature" in sent) is (thinking is None)  # Anthropic refuses a temperature with thinking on


async def test_reasoning_effort_on_an_adaptive_model_is_its_effort(client: Client, messages_route: respx.Route) -> None:
    sent = await sent_for(client, messages_route, model="anthropic/claude-opus-4-6", reasoning_effort="minimal")

    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {"effort": "low"}
    assert sent["max_tokens"] == 4096


async def test_a_forced_tool_leaves_thinking_off(client: Client, messages_route: respx.Route) -> None:
    # Anthropic refuses thinking with a forced tool choice; the tool choice is what the client needs.
    sent = await sent_for(client, messages_route, reasoning_effort="high", tools=[WEATHER], tool_choice="required")

    assert "thinking" not in sent
    assert sent["tool_choice"] == {"type": "any"}


async def test_an_unknown_reasoning_effort_is_refused(client: Client, messages_route: respx.Route) -> None:
    response = await post(client, {"model": MODEL, "messages": USER_HI, "reasoning_effort": "extreme"})

    error = assert_error(response, 400, code="invalid_value")
    assert "reasoning_effort" in error["message"]
    assert messages_route.call_count == 0


def tool_turn(details: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A conversation whose last assistant turn called a tool, carrying `details` as `reasoning_details`."""
    assistant: dict[str, Any] = {
        "role": "assistant",
        "content": None,
        "reasoning_content": "The user wants the weather.",
        "tool_calls": [{"id": "toolu_01A", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
    }
    if details is not None:
        assistant["reasoning_details"] = details
    return [
        {"role": "user", "content": "Weather in Paris?"},
        assistant,
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "sunny"},
    ]


async def test_signed_thinking_goes_back_first_in_its_turn(client: Client, messages_route: respx.Route) -> None:
    other = {
        "type": "reasoning.text",
        "text": "not Claude's",
        "signature": "x",
        "format": "openai-responses-v1",
        "index": 2,
    }

    sent = await sent_for(
        client, messages_route, messages=tool_turn([REDACTED, SIGNED, other]), tools=[WEATHER], reasoning_effort="low"
    )

    assert sent["messages"][1]["content"] == [
        {"type": "thinking", "thinking": SIGNED["text"], "signature": SIGNED["signature"]},
        {"type": "redacted_thinking", "data": REDACTED["data"]},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {}},
    ]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize("details", [None, [], [{**SIGNED, "signature": ""}]])
async def test_a_tool_turn_without_its_signed_thinking_turns_thinking_off(
    client: Client, messages_route: respx.Route, details: list[dict[str, Any]] | None
) -> None:
    # A client that drops `reasoning_details` (LangChain's ChatOpenAI does) would get Anthropic's 400 otherwise.
    sent = await sent_for(client, messages_route, messages=tool_turn(details), tools=[WEATHER], reasoning_effort="low")

    assert "thinking" not in sent
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {}}
    ]


async def test_thinking_is_left_out_of_a_prefilled_final_turn_when_off(
    client: Client, messages_route: respx.Route
) -> None:
    messages = [
        {"role": "user", "content": "Count to three."},
        {"role": "assistant", "content": "One,", "reasoning_details": [SIGNED]},
    ]

    sent = await sent_for(client, messages_route, messages=messages)

    assert sent["messages"][-1] == {"role": "assistant", "content": [{"type": "text", "text": "One,"}]}


# ------------------------------------------------------------------------------------- what it cannot take


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        ({"tools": [{"type": "custom", "custom": {"name": "grep"}}]}, "tools[0]"),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": '}}
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "?"},
                ]
            },
            "messages[1].tool_calls[0]",
        ),
    ],
)
async def test_what_anthropic_cannot_take_moves_routing_on(
    make_client: MakeClient, upstream: respx.MockRouter, fields: dict[str, Any], param: str
) -> None:
    route = upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(ANTHROPIC_STRUCTURED_MESSAGE))
    upstream.get(url__startswith=f"{ANTHROPIC_BASE}/v1/models").mock(return_value=json_response(ANTHROPIC_MODELS))
    alias = {"either": {"targets": [MODEL, "mock/text"]}}

    async with make_client(providers={"anthropic": ANTHROPIC_TABLE}, models=alias) as client:
        direct = await post(client, {"model": MODEL, "messages": USER_HI, **fields})
        fallback = await post(client, {"model": "either", "messages": USER_HI, **fields})

    error = assert_error(direct, 400, code="unsupported_by_provider")
    assert f"'{param}'" in error["message"]
    assert fallback.status_code == 200, fallback.text
    assert fallback.headers["x-llm-router-target"] == "mock/text"
    assert route.call_count == 0


# ------------------------------------------------------------------------------------------------ answers


async def test_thinking_and_cache_counts_in_a_whole_answer(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(ANTHROPIC_THINKING_TOOL_MESSAGE))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "tools": [WEATHER]})

    body = completion_of(response)
    wire = json.loads(ANTHROPIC_THINKING_TOOL_MESSAGE)
    thinking = wire["content"][0]
    message = body["choices"][0]["message"]
    assert (
        message["content"] == "I can help you get the current weather information for Paris. Let me check that for you"
    )
    assert message["reasoning_content"] == thinking["thinking"]
    assert message["reasoning_details"] == [
        {
            "type": "reasoning.text",
            "text": thinking["thinking"],
            "signature": thinking["signature"],
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]
    assert message["tool_calls"] == [
        {
            "id": "toolu_01CswdEQBMshySk6Y9DFKrfq",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'},
        }
    ]
    assert body["id"] == "msg_01Aq9w938a90dw8q"
    assert body["model"] == "claude-sonnet-4-5-20250929"
    # Every input token counts as a prompt token, cached or not; cache reads are OpenAI's cached tokens.
    assert body["usage"] == {
        "prompt_tokens": 410 + 2048 + 1200,
        "completion_tokens": 182,
        "total_tokens": 410 + 2048 + 1200 + 182,
        "prompt_tokens_details": {"cached_tokens": 2048},
    }


async def test_an_answer_echoed_back_returns_its_signed_thinking(client: Client, upstream: respx.MockRouter) -> None:
    route = upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(ANTHROPIC_THINKING_TOOL_MESSAGE))
    first = completion_of(await post(client, {"model": MODEL, "messages": USER_HI, "tools": [WEATHER]}))
    echoed = first["choices"][0]["message"]
    call_id = echoed["tool_calls"][0]["id"]

    history = [*USER_HI, echoed, {"role": "tool", "tool_call_id": call_id, "content": "sunny"}]
    await post(client, {"model": MODEL, "messages": history, "tools": [WEATHER], "reasoning_effort": "low"})

    wire = json.loads(ANTHROPIC_THINKING_TOOL_MESSAGE)
    assert sent_json(route)["messages"][1]["content"] == wire["content"]  # the turn as Anthropic sent it
    assert sent_json(route)["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "content_filter"),
    ],
)
async def test_stop_reasons(client: Client, upstream: respx.MockRouter, stop_reason: str, finish_reason: str) -> None:
    wire = json.loads(ANTHROPIC_STRUCTURED_MESSAGE)
    wire["stop_reason"] = stop_reason
    upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(json.dumps(wire).encode()))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    assert completion_of(response)["choices"][0]["finish_reason"] == finish_reason


async def test_an_error_answered_with_200_is_an_error(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(ANTHROPIC_OVERLOADED_529))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    assert_error(response, 503, code="overloaded_error")


async def test_an_answer_that_is_not_a_message_is_a_protocol_error(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(b'{"content": "not blocks"}'))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    error = assert_error(response, 502, code="upstream_invalid_response")
    assert "anthropic" in error["message"]


# ------------------------------------------------------------------------------------------------ streams


def anthropic_chunks(stream: bytes) -> list[dict[str, Any]]:
    """The chunks the adapter itself makes of an Anthropic stream, before the router's normalisation."""
    answer = AnswerStream(created=1)
    chunks = []
    for frame in stream.strip().split(b"\n\n"):
        event = msgspec.json.decode(frame.split(b"data: ", 1)[1], type=Event)
        if (chunk := answer.feed(event)) is not None:
            chunks.append(msgspec.to_builtins(chunk))
    return chunks


def test_parallel_calls_are_numbered_apart_from_content_blocks() -> None:
    calls = [
        call
        for chunk in anthropic_chunks(ANTHROPIC_PARALLEL_TOOLS_STREAM)
        for call in chunk["choices"][0]["delta"].get("tool_calls", ())
    ]

    # Blocks 1 and 2 (block 0 is text) are calls 0 and 1; each opens with its id, name and first fragment.
    assert [(call["index"], call.get("id"), call["function"]) for call in calls] == [
        (0, "toolu_01NRLabsLyVHZPKxbKvkfSMn", {"name": "get_weather", "arguments": '{"locati'}),
        (0, None, {"arguments": 'on": "P'}),
        (0, None, {"arguments": "ar"}),
        (0, None, {"arguments": 'is"}'}),
        (1, "toolu_01A09q90qw90lq917835lq9", {"name": "get_time", "arguments": '{"timezone": "Eur'}),
        (1, None, {"arguments": 'ope/Paris"}'}),
    ]


def test_a_stream_without_usage_reports_none() -> None:
    stream = ANTHROPIC_TEXT_STREAM.replace(b',"usage":{"input_tokens":11,"output_tokens":1}', b"").replace(
        b',"usage":{"output_tokens":6}', b""
    )

    chunks = anthropic_chunks(stream)

    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in chunk for chunk in chunks)
    assert "usage" in anthropic_chunks(ANTHROPIC_TEXT_STREAM)[-1]


def test_a_thinking_block_may_open_without_its_signature() -> None:
    # As docs.claude.com's streaming example shows it: the signature comes last, as a delta, either way.
    opened_bare = ANTHROPIC_THINKING_STREAM.replace(b', "signature": ""}}', b"}}")
    assert opened_bare != ANTHROPIC_THINKING_STREAM

    assert anthropic_chunks(opened_bare) == anthropic_chunks(ANTHROPIC_THINKING_STREAM)


def test_pings_and_unknown_events_and_deltas_say_nothing() -> None:
    citation = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"citations_delta",'
        b'"citation":{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,'
        b'"end_char_index":1}}}\n\n'
    )
    future = b'event: message_progress\ndata: {"type":"message_progress","progress":0.5}\n\n'
    frames = ANTHROPIC_TEXT_STREAM.split(b"\n\n")
    stream = b"\n\n".join(frames[:4]) + b"\n\n" + citation + future + b"\n\n".join(frames[4:])

    assert anthropic_chunks(stream) == anthropic_chunks(ANTHROPIC_TEXT_STREAM)
    assert len(anthropic_chunks(ANTHROPIC_TEXT_STREAM)) == 5  # opening, three texts, finish: the ping says nothing


async def test_thinking_streams_as_reasoning_then_one_signed_entry(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(ANTHROPIC_MESSAGES).mock(side_effect=streamed(ANTHROPIC_THINKING_STREAM))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    chunks = stream_of(response)
    with_details = [chunk for chunk in chunks if "reasoning_details" in chunk["choices"][0]["delta"]]
    assert len(with_details) == 1  # the whole block once, after its last thinking delta
    position = chunks.index(with_details[0])
    assert text_of(chunks[position + 1 :], "reasoning_content") == ""
    assert text_of(chunks[:position]) == ""


async def test_a_redacted_thinking_block_is_an_encrypted_entry(client: Client, upstream: respx.MockRouter) -> None:
    frames = ANTHROPIC_TEXT_STREAM.split(b"\n\n")
    redacted = (
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":'
        b'{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"}}\n\nevent: content_block_stop\n'
        b'data: {"type":"content_block_stop","index":0}'
    )
    stream = b"\n\n".join([frames[0], redacted, *(frame.replace(b'"index":0', b'"index":1') for frame in frames[1:])])
    upstream.post(ANTHROPIC_MESSAGES).mock(side_effect=streamed(stream))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    chunks = stream_of(response)
    details = [detail for chunk in chunks for detail in chunk["choices"][0]["delta"].get("reasoning_details", ())]
    assert details == [
        {"type": "reasoning.encrypted", "data": "EmwKAhgBEgy3va3pzix", "format": "anthropic-claude-v1", "index": 0}
    ]
    assert text_of(chunks) == "Hello there!"


async def test_an_error_event_before_the_answer_is_a_plain_http_error(
    client: Client, upstream: respx.MockRouter
) -> None:
    error = b'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}\n\n'
    upstream.post(ANTHROPIC_MESSAGES).mock(side_effect=streamed(error))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    assert_error(response, 429, type_="rate_limit_error", code="rate_limit_error")


async def test_a_stream_that_closes_before_its_finish_is_an_error_event(
    client: Client, upstream: respx.MockRouter
) -> None:
    cut = b"\n\n".join(ANTHROPIC_TOOL_STREAM.split(b"\n\n")[:9]) + b"\n\n"
    upstream.post(ANTHROPIC_MESSAGES).mock(side_effect=streamed(cut))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    error = assert_stream_error(response.text)
    assert "closed the stream before the answer was finished" in error["message"]
    assert text_of(parse_sse(response.text)[:-1]) == "I'll check the current weather in Paris for you."


async def test_a_stream_is_asked_for_with_stream_true(client: Client, upstream: respx.MockRouter) -> None:
    route = upstream.post(ANTHROPIC_MESSAGES).mock(side_effect=streamed(ANTHROPIC_TEXT_STREAM))

    await post(client, {"model": MODEL, "messages": USER_HI, "stream": True, "stream_options": {"include_usage": True}})

    sent = sent_json(route)
    assert sent["stream"] is True
    assert "stream_options" not in sent


# ------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (400, ANTHROPIC_PROMPT_TOO_LONG_400, 400, "context_length_exceeded"),
        (400, ANTHROPIC_THINKING_MISSING_400, 400, "invalid_request_error"),
        (
            403,
            anthropic_error("permission_error", "Your API key does not have permission to use the specified resource."),
            403,
            "permission_error",
        ),
        (404, anthropic_error("not_found_error", "model: claude-3-5-sonnet-20240620"), 404, "model_not_found"),
        (
            413,
            anthropic_error("request_too_large", "Request exceeds the maximum allowed number of bytes."),
            413,
            "request_too_large",
        ),
        (504, anthropic_error("timeout_error", "Request timed out"), 504, "timeout_error"),
        (529, ANTHROPIC_OVERLOADED_529, 503, "overloaded_error"),
        (502, b"<html>Bad gateway</html>", 502, "upstream_error"),
    ],
)
async def test_error_statuses(
    client: Client, upstream: respx.MockRouter, status: int, body: bytes, expected: int, code: str
) -> None:
    upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(body, status, **{"request-id": "req_011CAbc"}))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    error = assert_error(response, expected, code=code)
    assert "anthropic answered" in error["message"]
    assert "(request req_" in error["message"]  # the request id Anthropic's support asks for


@pytest.mark.parametrize(
    ("kind", "status", "type_"),
    [
        ("overloaded_error", 503, "server_error"),
        ("rate_limit_error", 429, "rate_limit_error"),
        ("api_error", 502, "server_error"),
        ("invalid_request_error", 400, "invalid_request_error"),
    ],
)
async def test_error_events_mid_stream_keep_their_meaning(
    client: Client, upstream: respx.MockRouter, kind: str, status: int, type_: str
) -> None:
    stream = ANTHROPIC_TEXT_STREAM.split(b"event: content_block_stop")[0] + (
        b'event: error\ndata: {"type":"error","error":{"type":"%s","message":"It broke"}}\n\n' % kind.encode()
    )
    upstream.post(ANTHROPIC_MESSAGES).mock(side_effect=streamed(stream))

    response = await post(client, {"model": MODEL, "messages": USER_HI, "stream": True})

    error = assert_stream_error(response.text)
    assert error["type"] == type_
    assert error["code"] == kind
    assert "It broke" in error["message"]
    assert status  # the status the same error would have had before the stream began (test above)


async def test_a_quoted_key_is_redacted(client: Client, upstream: respx.MockRouter) -> None:
    body = anthropic_error("invalid_request_error", f"x-api-key {ANTHROPIC_KEY} may not be used here")
    upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(body, 400))

    response = await post(client, {"model": MODEL, "messages": USER_HI})

    assert ANTHROPIC_KEY not in response.text
    assert "[redacted]" in assert_error(response, 400)["message"]


# ------------------------------------------------------------------------------------------------- models


async def test_the_model_list_says_what_each_model_can_do(make_client: MakeClient, upstream: respx.MockRouter) -> None:
    pages = {
        None: {**json.loads(ANTHROPIC_MODELS), "has_more": True, "last_id": "claude-sonnet-4-5-20250929"},
        "claude-sonnet-4-5-20250929": {
            "data": [
                {
                    "type": "model",
                    "id": "claude-opus-4-6",
                    "display_name": "Claude Opus 4.6",
                    "created_at": "2026-02-05T00:00:00Z",
                }
            ],
            "has_more": False,
        },
    }

    def page(request: httpx.Request) -> httpx.Response:
        assert request.url.params["limit"] == "1000"
        return json_response(json.dumps(pages[request.url.params.get("after_id")]).encode())

    upstream.get(url__startswith=f"{ANTHROPIC_BASE}/v1/models").mock(side_effect=page)
    plain = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": plain}}
    alias = {"structured": {"targets": ["anthropic/claude-sonnet-4-5-20250929", "mock/text"]}}

    async with make_client(providers={"anthropic": ANTHROPIC_TABLE}, models=alias) as client:
        listing = (await client.get("/v1/models")).json()["data"]
        upstream.post(ANTHROPIC_MESSAGES).mock(return_value=json_response(ANTHROPIC_STRUCTURED_MESSAGE))
        served = await post(client, {"model": "structured", "messages": USER_HI, "response_format": schema})

    ids = [model["id"] for model in listing if model["id"].startswith("anthropic/")]
    assert ids == [
        "anthropic/claude-sonnet-4-5-20250929",
        "anthropic/claude-3-haiku-20240307",
        "anthropic/claude-opus-4-6",
    ]
    created = {model["id"]: model["created"] for model in listing}
    assert created["anthropic/claude-sonnet-4-5-20250929"] == 1759104000  # 2025-09-29T00:00:00Z
    # The list says Sonnet 4.5 takes structured output, so the alias's first target serves.
    assert served.headers["x-llm-router-target"] == "anthropic/claude-sonnet-4-5-20250929"


# ------------------------------------------------------------------------------------- the wire examples


@pytest.mark.parametrize(
    "body", [ANTHROPIC_STRUCTURED_MESSAGE, ANTHROPIC_THINKING_TOOL_MESSAGE, ANTHROPIC_PARALLEL_MESSAGE]
)
def test_the_message_examples_are_anthropic_messages(body: bytes) -> None:
    anthropic.types.Message.model_validate_json(body)


@pytest.mark.parametrize("stream", [ANTHROPIC_TOOL_STREAM, ANTHROPIC_PARALLEL_TOOLS_STREAM, ANTHROPIC_THINKING_STREAM])
def test_the_stream_examples_are_anthropic_events(stream: bytes) -> None:
    events = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
    for frame in stream.strip().split(b"\n\n"):
        name, data = frame.split(b"\n", 1)
        if name != b"event: ping":
            event = events.validate_json(data.removeprefix(b"data: "))
            assert name == b"event: " + event.type.encode()
