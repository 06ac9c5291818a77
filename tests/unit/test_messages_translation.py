"""Messages API translation both ways: a request to the chat body an upstream gets, a chat answer back, and
answer events to Anthropic's stream."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from app.messages.decode import decode_request
from app.messages.from_chat import message_from_completion
from app.messages.stream import MessageEventWriter, encode_events
from app.messages.to_chat import chat_request
from app.messages.tokens import estimate_input_tokens
from app.pipeline import events as answer
from providers.errors import InvalidRequest, UpstreamProtocolError, UpstreamUnavailable
from providers.schema import ChatCompletion, CompletionTokensDetails, PromptTokensDetails, Usage
from tests.support.anthropic import assert_message, assert_stream, parse_events

WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "cache_control": {"type": "ephemeral"},
}
QUESTION = [{"role": "user", "content": "Weather in Paris?"}]


def upstream_body(**request: Any) -> dict[str, Any]:
    """The chat body an upstream gets for a Messages request."""
    fields = {"model": "mock/text", "max_tokens": 256, "messages": QUESTION, **request}
    chat = chat_request(decode_request(json.dumps(fields).encode()))
    body: dict[str, Any] = json.loads(chat.upstream_body("upstream-model"))
    return body


def refused(**request: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        upstream_body(**request)
    assert raised.value.http_status == 400
    return raised.value


# --------------------------------------------------------------------------------------------------- requests


def test_the_settings_map_to_their_chat_names() -> None:
    body = upstream_body(
        system=[
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Be kind."},
        ],
        stop_sequences=["END"],
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        metadata={"user_id": "user-7"},
    )

    assert body == {
        "model": "upstream-model",
        "messages": [
            {"role": "system", "content": "Be brief.\n\nBe kind."},
            {"role": "user", "content": "Weather in Paris?"},
        ],
        "stream": False,
        "max_completion_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END"],
        "user": "user-7",
        "top_k": 40,
    }


def test_hints_a_chat_model_cannot_honour_are_accepted_and_not_forwarded() -> None:
    body = upstream_body(
        cache_control={"type": "ephemeral"},
        service_tier="auto",
        speed="fast",
        inference_geo="us",
        context_management={"edits": [{"type": "clear_tool_uses_20250919"}]},
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]}
        ],
    )

    assert body == {
        "model": "upstream-model",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
        "max_completion_tokens": 256,
    }


def test_a_stream_always_asks_for_usage() -> None:
    body = upstream_body(stream=True)

    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_tools_become_function_tools_and_each_tool_choice_its_chat_twin() -> None:
    strict = {**WEATHER, "name": "lookup", "strict": True}
    choices: list[tuple[dict[str, Any], Any]] = [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "tool", "name": "lookup"}, {"type": "function", "function": {"name": "lookup"}}),
        ({"type": "none"}, "none"),
    ]
    for choice, expected in choices:
        body = upstream_body(tools=[WEATHER, strict], tool_choice=choice)

        assert body["tool_choice"] == expected
        assert "parallel_tool_calls" not in body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather.",
                "parameters": WEATHER["input_schema"],
            },
        },
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Current weather.",
                "parameters": WEATHER["input_schema"],
                "strict": True,
            },
        },
    ]


@pytest.mark.parametrize("kind", ["auto", "any"])
def test_disable_parallel_tool_use_is_parallel_tool_calls_false(kind: str) -> None:
    body = upstream_body(tools=[WEATHER], tool_choice={"type": kind, "disable_parallel_tool_use": True})

    assert body["parallel_tool_calls"] is False


def test_a_whole_tool_conversation_keeps_its_order_ids_and_reasoning() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Two cities.", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_00_x", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": [{"type": "text", "text": "Sunny"}, {"type": "text", "text": "21 C"}],
                },
                {"type": "tool_result", "tool_use_id": "call_00_x", "content": "city is required", "is_error": True},
                {"type": "text", "text": "Thanks."},
            ],
        },
    ]

    body = upstream_body(messages=messages, tools=[WEATHER])

    assert body["messages"] == [
        {"role": "user", "content": "Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "type": "function",
                    "id": "toolu_01",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"type": "function", "id": "call_00_x", "function": {"name": "get_weather", "arguments": "{}"}},
            ],
            "reasoning_content": "Two cities.",
        },
        {"role": "tool", "content": "Sunny\n\n21 C", "tool_call_id": "toolu_01"},
        {"role": "tool", "content": "Error: city is required", "tool_call_id": "call_00_x"},
        {"role": "user", "content": "Thanks."},
    ]


def test_an_assistant_turn_of_only_tool_calls_has_null_content() -> None:
    messages = [
        *QUESTION,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
    ]

    body = upstream_body(messages=messages, tools=[WEATHER])

    assert body["messages"][1]["content"] is None
    assert body["messages"][2] == {"role": "tool", "content": "", "tool_call_id": "t1"}


def test_images_go_as_data_urls_or_urls_and_system_messages_stay_in_place() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.org/cat.jpg"}},
            ],
        },
        {"role": "system", "content": "Answer in French."},
    ]

    body = upstream_body(messages=messages)

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}},
            ],
        },
        {"role": "system", "content": "Answer in French."},
    ]


@pytest.mark.parametrize(
    ("thinking", "output_config", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 4096}, None, "low"),
        ({"type": "enabled", "budget_tokens": 10000}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 31999}, None, "high"),
        ({"type": "enabled", "budget_tokens": 31999}, {"effort": "low"}, "low"),
        ({"type": "adaptive"}, {"effort": "max"}, "max"),
        ({"type": "adaptive"}, None, None),
        ({"type": "disabled"}, None, None),
    ],
)
def test_thinking_becomes_reasoning_effort(
    thinking: dict[str, Any], output_config: dict[str, Any] | None, effort: str | None
) -> None:
    extra = {"output_config": output_config} if output_config else {}

    body = upstream_body(thinking=thinking, **extra)

    assert body.get("reasoning_effort") == effort


def test_an_output_format_is_a_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}

    body = upstream_body(output_config={"format": {"type": "json_schema", "schema": schema}})

    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


# ----------------------------------------------------------------------------------------------------- refusals


def test_max_tokens_is_required_and_positive() -> None:
    fields = {"model": "mock/text", "messages": QUESTION}
    with pytest.raises(InvalidRequest) as missing:
        decode_request(json.dumps(fields).encode())
    assert missing.value.param == "max_tokens"

    assert refused(max_tokens=0).param == "max_tokens"
    # Counting tokens needs none.
    assert decode_request(json.dumps(fields).encode(), counting=True).max_tokens is msgspec.UNSET


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]}, "tools[0].type"),
        ({"tools": [WEATHER, {"type": "bash_20250124", "name": "bash"}]}, "tools[1].type"),
        ({"tools": [{"name": "no_schema"}]}, "tools[0].input_schema"),
        ({"container": "container_abc"}, "container"),
        ({"mcp_servers": [{"type": "url", "url": "https://mcp.example.org", "name": "x"}]}, "mcp_servers"),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "missing"}}, "tool_choice.name"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x"}}]}
                ]
            },
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f1"}}]}
                ]
            },
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "image", "source": {"type": "url", "url": "https://x.org/a.png"}}],
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "search_result", "source": "s", "title": "t", "content": []}],
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "x", "input": {}}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [*QUESTION, {"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]},
            "messages[1].content[0].type",
        ),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "assistant", "content": ""}]}, "messages"),
        ({"model": "has space"}, "model"),
        ({"temperature": 1.5}, "temperature"),
    ],
)
def test_what_the_router_cannot_do_is_refused_by_name(request_fields: dict[str, Any], param: str) -> None:
    error = refused(**request_fields)

    assert error.param == param, error.message
    assert error.message


def test_an_unknown_block_says_which_blocks_the_router_takes() -> None:
    message = refused(messages=[{"role": "user", "content": [{"type": "document", "source": {}}]}]).message

    assert "'document'" in message
    assert "tool_result" in message


# ----------------------------------------------------------------------------------------------------- answers


def completion(message: dict[str, Any], finish_reason: str = "stop", usage: Usage | None = None) -> ChatCompletion:
    return ChatCompletion(
        id="chatcmpl-1",
        created=1,
        model="upstream/model",
        choices=msgspec.convert(
            [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}], list[Any]
        ),
        usage=usage or Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
    )


def rendered(chat: ChatCompletion) -> dict[str, Any]:
    message = message_from_completion(
        msgspec.convert(msgspec.to_builtins(chat), ChatCompletion), model="asked", provider="p"
    )
    body: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(message))
    assert_message(body)
    return body


def test_an_answer_is_thinking_then_text_then_tool_use_with_the_upstream_ids() -> None:
    chat = completion(
        {
            "content": "Let me check.",
            "reasoning_content": "Paris first.",
            "tool_calls": [
                {
                    "id": "call_00_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {"id": "toolu_bdrk_9", "type": "function", "function": {"name": "now", "arguments": ""}},
            ],
        },
        "tool_calls",
    )

    body = rendered(chat)

    assert body["content"] == [
        {"type": "thinking", "thinking": "Paris first.", "signature": ""},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_00_abc", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_bdrk_9", "name": "now", "input": {}},
    ]
    assert body["stop_reason"] == "tool_use"
    assert body["stop_sequence"] is None
    assert body["model"] == "upstream/model"
    assert body["role"] == "assistant"


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal")],
)
def test_finish_reasons_become_stop_reasons(finish_reason: str, stop_reason: str) -> None:
    assert rendered(completion({"content": "Hi"}, finish_reason))["stop_reason"] == stop_reason


def test_a_refusal_is_text_with_stop_reason_refusal() -> None:
    body = rendered(completion({"content": None, "refusal": "I can't help with that."}))

    assert body["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert body["stop_reason"] == "refusal"


def test_an_empty_answer_has_no_blocks() -> None:
    assert rendered(completion({"content": ""}))["content"] == []


def test_usage_counts_cached_prompt_tokens_apart() -> None:
    usage = Usage(
        prompt_tokens=306,
        completion_tokens=85,
        total_tokens=391,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=256),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=31),
    )

    body = rendered(completion({"content": "Hi"}, usage=usage))

    assert body["usage"] == {
        "input_tokens": 50,
        "output_tokens": 85,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 256,
    }


@pytest.mark.parametrize("arguments", ['{"city": "Par', "[1, 2]", "null"])
def test_tool_arguments_that_are_not_an_object_fail_the_answer(arguments: str) -> None:
    chat = completion(
        {
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}],
        },
        "tool_calls",
    )

    with pytest.raises(UpstreamProtocolError) as raised:
        rendered(chat)
    assert raised.value.http_status == 502
    assert "'f'" in raised.value.message


# ------------------------------------------------------------------------------------------------------ streams

TURN = answer.TurnStarted(id="chatcmpl-1", created=1, model="upstream/model")


def stream(*batches: list[answer.AnswerEvent]) -> list[dict[str, Any]]:
    writer = MessageEventWriter("asked", "p")
    frames = b"".join(encode_events(writer.feed(batch)) for batch in batches) + encode_events(writer.finish())
    return parse_events(frames.decode())


def test_a_streamed_answer_is_anthropics_event_sequence() -> None:
    events = stream(
        [TURN, answer.ChoiceStarted(0, "", None), answer.ReasoningDelta(0, "Hmm. ")],
        [answer.ReasoningDelta(0, "Paris.")],
        [answer.TextDelta(0, "Let me "), answer.TextDelta(0, "check.")],
        [answer.ToolCallStarted(0, 0, "call_1", "get_weather", "")],
        [answer.ToolCallDelta(0, 0, None, '{"city":')],
        [answer.ToolCallDelta(0, 0, None, ' "Paris"}')],
        [
            answer.ToolCallDone(0, 0, "call_1", "get_weather", '{"city": "Paris"}'),
            answer.ChoiceFinished(0, "tool_calls"),
        ],
        [answer.TurnUsage(usage=Usage(prompt_tokens=10, completion_tokens=7, total_tokens=17))],
    )

    message = assert_stream(events)
    assert [event["type"] for event in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert message["content"] == [
        {"type": "thinking", "thinking": "Hmm. Paris.", "signature": ""},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 10
    assert message["usage"]["output_tokens"] == 7
    assert message["model"] == "upstream/model"


def test_parallel_calls_are_blocks_of_their_own_in_order() -> None:
    events = stream(
        [TURN, answer.ChoiceStarted(0, None, None)],
        [answer.ToolCallStarted(0, 0, "call_a", "get_weather", '{"city": "Paris"}')],
        [answer.ToolCallStarted(0, 1, "call_b", "get_weather", "")],
        [answer.ToolCallDelta(0, 1, None, '{"city": "Rome"}')],
        [answer.ToolCallStarted(0, 2, "call_c", "now", "")],
        [
            answer.ToolCallDelta(0, 2, None, "{}"),
            answer.ToolCallDone(0, 0, "call_a", "get_weather", '{"city": "Paris"}'),
            answer.ToolCallDone(0, 1, "call_b", "get_weather", '{"city": "Rome"}'),
            answer.ToolCallDone(0, 2, "call_c", "now", "{}"),
            answer.ChoiceFinished(0, "tool_calls"),
        ],
    )

    message = assert_stream(events)
    starts = [event for event in events if event["type"] == "content_block_start"]
    stops = [event["index"] for event in events if event["type"] == "content_block_stop"]
    assert [(event["index"], event["content_block"]["id"]) for event in starts] == [
        (0, "call_a"),
        (1, "call_b"),
        (2, "call_c"),
    ]
    assert stops == [0, 1, 2]
    # Each block stops before the next starts, as Anthropic's own streams do.
    positions = [event["type"] for event in events if event["type"].startswith("content_block_s")]
    assert positions == ["content_block_start", "content_block_stop"] * 3
    assert [block["input"] for block in message["content"]] == [{"city": "Paris"}, {"city": "Rome"}, {}]


def test_interleaved_argument_fragments_keep_to_their_own_blocks() -> None:
    events = stream(
        [TURN],
        [answer.ToolCallStarted(0, 0, "call_a", "f", '{"x": ')],
        [answer.ToolCallStarted(0, 1, "call_b", "g", '{"y": ')],
        [answer.ToolCallDelta(0, 0, None, "1}")],
        [answer.ToolCallDelta(0, 1, None, "2}")],
        [
            answer.ToolCallDone(0, 0, "call_a", "f", '{"x": 1}'),
            answer.ToolCallDone(0, 1, "call_b", "g", '{"y": 2}'),
            answer.ChoiceFinished(0, "tool_calls"),
        ],
    )

    message = assert_stream(events)
    assert [block["input"] for block in message["content"]] == [{"x": 1}, {"y": 2}]


def test_a_call_named_late_starts_its_block_once_named() -> None:
    events = stream(
        [TURN],
        [answer.ToolCallStarted(0, 0, "call_a", None, '{"x"')],
        [answer.ToolCallDelta(0, 0, "f", ": 1}")],
        [answer.ToolCallDone(0, 0, "call_a", "f", '{"x": 1}'), answer.ChoiceFinished(0, "tool_calls")],
    )

    message = assert_stream(events)
    assert message["content"] == [{"type": "tool_use", "id": "call_a", "name": "f", "input": {"x": 1}}]


def test_later_turns_calls_are_new_blocks() -> None:
    second = answer.TurnStarted(id="chatcmpl-2", created=2, model="upstream/model")
    events = stream(
        [TURN, answer.ToolCallStarted(0, 0, "call_a", "f", "{}")],
        [answer.ToolCallDone(0, 0, "call_a", "f", "{}"), answer.ChoiceFinished(0, "tool_calls")],
        [second, answer.ToolCallStarted(0, 0, "call_b", "f", "{}")],
        [answer.ToolCallDone(0, 0, "call_b", "f", "{}"), answer.ChoiceFinished(0, "tool_calls")],
    )

    message = assert_stream(events)
    assert [block["id"] for block in message["content"]] == ["call_a", "call_b"]
    assert sum(event["type"] == "message_start" for event in events) == 1


def test_a_refusal_streams_as_text_with_stop_reason_refusal() -> None:
    message = assert_stream(stream([TURN, answer.RefusalDelta(0, "No.")], [answer.ChoiceFinished(0, "stop")]))

    assert message["content"] == [{"type": "text", "text": "No."}]
    assert message["stop_reason"] == "refusal"


def test_arguments_that_are_not_an_object_end_the_stream_with_an_error() -> None:
    writer = MessageEventWriter("asked", "p")
    writer.feed([TURN, answer.ToolCallStarted(0, 0, "call_a", "f", '{"x": ')])

    with pytest.raises(UpstreamProtocolError):
        writer.feed([answer.ToolCallDone(0, 0, "call_a", "f", '{"x": '), answer.ChoiceFinished(0, "tool_calls")])


def test_a_failure_is_an_error_event_in_anthropics_envelope() -> None:
    writer = MessageEventWriter("asked", "p")
    frames = encode_events(writer.feed([TURN, answer.TextDelta(0, "Hel")]))
    frames += writer.fail(UpstreamUnavailable("Overloaded.", provider="p"))

    events = parse_events(frames.decode())
    error = assert_stream(events, failed=True)
    assert error == {"type": "overloaded_error", "message": "Overloaded."}


# ------------------------------------------------------------------------------------------------------- tokens


def test_the_token_estimate_counts_text_messages_tools_and_images() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 40_000}}
    fields = {
        "model": "mock/text",
        "system": "x" * 400,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "y" * 400}, image]}],
    }
    plain = decode_request(json.dumps(fields).encode(), counting=True)
    with_tools = decode_request(json.dumps({**fields, "tools": [WEATHER]}).encode(), counting=True)

    # 800 bytes of text, one message, one image (its base64 bytes are not text).
    assert estimate_input_tokens(plain) == 200 + 4 + 1600
    assert estimate_input_tokens(with_tools) > estimate_input_tokens(plain)
