"""Responses API translation both ways: a request to the chat request an upstream gets, a chat answer back."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from app.pipeline.normalise import completion_events, normalise_completion
from app.responses.decode import decode_request
from app.responses.from_chat import new_response
from app.responses.items import FunctionCallInput, InputMessage
from app.responses.stream import render
from app.responses.to_chat import chat_request
from app.schemas import SchemaCompiler
from providers.errors import InvalidRequest
from providers.schema import ChatCompletion
from tests.support.openapi import assert_valid

TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather.",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    "strict": False,
}

SCHEMAS = SchemaCompiler()


def upstream_body(request: dict[str, Any], history: list[Any] | None = None) -> dict[str, Any]:
    """The chat body an upstream gets for a Responses request (continuing `history`)."""
    chat = chat_request(
        decode_request(json.dumps({"model": "mock/text", **request}).encode(), SCHEMAS), history or []
    ).request
    body: dict[str, Any] = json.loads(chat.upstream_body("upstream-model"))
    return body


def refused(request: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        upstream_body(request)
    assert raised.value.http_status == 400
    return raised.value


# ------------------------------------------------------------------------------------------------- requests


def test_string_input_with_instructions_and_settings() -> None:
    body = upstream_body(
        {
            "input": "Hi",
            "instructions": "Be brief.",
            "max_output_tokens": 50,
            "temperature": 0.2,
            "top_p": 0.9,
            "user": "u-1",
            "store": False,
            "metadata": {"k": "v"},
            "parallel_tool_calls": False,
            "reasoning": {"effort": "low"},
            "prompt_cache_key": "cache-1",
            "include": ["reasoning.encrypted_content"],
            "truncation": "disabled",
        }
    )

    assert body == {
        "model": "upstream-model",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "parallel_tool_calls": False,
        "stream": False,
        "max_completion_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "prompt_cache_key": "cache-1",
        "reasoning_effort": "low",
    }


def test_nulls_are_left_out_rather_than_sent() -> None:
    body = upstream_body({"input": "Hi", "temperature": None, "instructions": None, "tools": None, "text": {}})

    assert body == {
        "model": "upstream-model",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
    }


def test_stream_asks_the_upstream_for_usage() -> None:
    body = upstream_body({"input": "Hi", "stream": True})

    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_message_items_and_content_parts() -> None:
    body = upstream_body(
        {
            "input": [
                {"role": "developer", "content": "Rules."},
                {
                    "type": "message",
                    "role": "system",
                    "content": [{"type": "input_text", "text": "More rules."}],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": "https://example.org/a.png", "detail": "low"},
                        {
                            "type": "input_file",
                            "file_data": "data:application/pdf;base64,AAAA",
                            "filename": "a.pdf",
                        },
                    ],
                },
                {"role": "user", "content": [{"type": "input_text", "text": "One part is a plain string."}]},
            ]
        }
    )

    assert body["messages"] == [
        {"role": "developer", "content": "Rules."},
        {"role": "system", "content": "More rules."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.org/a.png", "detail": "low"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"},
                },
            ],
        },
        {"role": "user", "content": "One part is a plain string."},
    ]


def test_a_replayed_answer_becomes_one_assistant_message_with_its_tool_calls() -> None:
    """LangChain sends an earlier answer's output items back verbatim, ids and statuses included."""
    body = upstream_body(
        {
            "input": [
                {"role": "user", "content": "Weather in Lyon and Paris?"},
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [],
                    "content": [
                        {"type": "reasoning_text", "text": "Two cities, "},
                        {"type": "reasoning_text", "text": "two calls."},
                    ],
                },
                {
                    "type": "message",
                    "id": "msg_1",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}],
                },
                {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": "call_1",
                    "name": "get_weather",
                    "arguments": '{"location":"Lyon"}',
                    "status": "completed",
                },
                {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "Sunny."},
                {
                    "type": "function_call_output",
                    "call_id": "call_2",
                    "output": [{"type": "input_text", "text": "Rain."}],
                },
                {"type": "function_call", "call_id": "call_3", "name": "get_weather", "arguments": "{}"},
            ],
            "tools": [TOOL],
        }
    )

    assert body["messages"] == [
        {"role": "user", "content": "Weather in Lyon and Paris?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "reasoning_content": "Two cities, two calls.",
            "tool_calls": [
                {
                    "type": "function",
                    "id": "call_1",
                    "function": {"name": "get_weather", "arguments": '{"location":"Lyon"}'},
                },
                {"type": "function", "id": "call_2", "function": {"name": "get_weather", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "content": "Sunny.", "tool_call_id": "call_1"},
        {"role": "tool", "content": "Rain.", "tool_call_id": "call_2"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"type": "function", "id": "call_3", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
    ]


def test_reasoning_summary_is_sent_back_when_its_text_was_not_kept() -> None:
    body = upstream_body(
        {
            "input": [
                {"role": "user", "content": "Hi"},
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "Greeting."}],
                },
                {"role": "assistant", "content": "Hello."},
                {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "opaque"},
                {"role": "user", "content": "Again"},
            ]
        }
    )

    assert body["messages"][1] == {"role": "assistant", "content": "Hello.", "reasoning_content": "Greeting."}
    assert [message["role"] for message in body["messages"]] == ["user", "assistant", "user"]


def test_assistant_refusal_part() -> None:
    body = upstream_body(
        {
            "input": [
                {"role": "user", "content": "Do it."},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "I will not."}]},
                {"role": "user", "content": "Please."},
            ]
        }
    )

    assert body["messages"][1] == {"role": "assistant", "content": None, "refusal": "I will not."}


@pytest.mark.parametrize(("strict", "sent"), [(True, True), (False, False), (None, None)])
def test_flat_function_tools_become_nested_ones(strict: bool | None, sent: bool | None) -> None:
    body = upstream_body({"input": "Hi", "tools": [{**TOOL, "strict": strict}]})

    function = {"name": "get_weather", "description": "Current weather.", "parameters": TOOL["parameters"]}
    if sent is not None:
        function["strict"] = sent
    assert body["tools"] == [{"type": "function", "function": function}]


def test_a_tool_with_only_a_name() -> None:
    body = upstream_body({"input": "Hi", "tools": [{"type": "function", "name": "ping"}]})

    assert body["tools"] == [{"type": "function", "function": {"name": "ping"}}]


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("none", "none"),
        ("auto", "auto"),
        ("required", "required"),
        (
            {"type": "function", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
                },
            },
        ),
    ],
)
def test_tool_choice(choice: Any, sent: Any) -> None:
    assert upstream_body({"input": "Hi", "tools": [TOOL], "tool_choice": choice})["tool_choice"] == sent


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ({"format": {"type": "text"}}, None),
        ({"format": {"type": "json_object"}}, {"type": "json_object"}),
        (
            {
                "format": {
                    "type": "json_schema",
                    "name": "answer",
                    "schema": {"type": "object"},
                    "strict": True,
                }
            },
            {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
            },
        ),
    ],
)
def test_text_format_becomes_response_format(text: dict[str, Any], sent: Any) -> None:
    assert upstream_body({"input": "Hi", "text": text}).get("response_format") == sent


@pytest.mark.parametrize(("verbosity", "sent"), [("medium", None), ("low", "low"), (None, None)])
def test_verbosity_is_forwarded_only_when_it_changes_something(verbosity: str | None, sent: str | None) -> None:
    assert upstream_body({"input": "Hi", "text": {"verbosity": verbosity}}).get("verbosity") == sent


def test_history_comes_before_the_new_input() -> None:
    history = [
        InputMessage(role="user", content="Weather?"),
        FunctionCallInput(call_id="call_1", name="get_weather", arguments="{}"),
    ]

    body = upstream_body(
        {
            "instructions": "New rules.",
            "input": [{"type": "function_call_output", "call_id": "call_1", "output": "Sunny."}],
        },
        history,
    )

    assert [message["role"] for message in body["messages"]] == ["system", "user", "assistant", "tool"]
    assert body["messages"][0] == {"role": "system", "content": "New rules."}


# ------------------------------------------------------------------------------------------- refused requests


@pytest.mark.parametrize(
    ("request_", "param"),
    [
        ({"input": "Hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": "Hi", "tools": [TOOL, {"type": "file_search", "vector_store_ids": []}]}, "tools[1].type"),
        ({"input": "Hi", "tools": [{"type": "custom", "name": "x"}]}, "tools[0].type"),
        ({"input": "Hi", "tools": [{"type": "function", "name": "bad name"}]}, "tools[0].name"),
        ({"input": "Hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"input": "Hi", "tool_choice": "sometimes"}, "tool_choice"),
        ({"input": "Hi", "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
        (
            {"input": "Hi", "tools": [TOOL], "tool_choice": {"type": "function", "name": "other"}},
            "tool_choice.name",
        ),
        ({"input": "Hi", "tool_choice": {"type": "function"}}, "tool_choice.name"),
        (
            {
                "input": "Hi",
                "tools": [TOOL],
                "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "mcp"}]},
            },
            "tool_choice.tools[0]",
        ),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
        ({"input": [{"id": "msg_1"}]}, "input[0]"),
        ({"input": ["Hi", {"type": "web_search_call", "id": "ws_1"}]}, "input[0]"),
        (
            {"input": [{"role": "user", "content": "Hi"}, {"type": "web_search_call", "id": "ws_1"}]},
            "input[1].type",
        ),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"input": [{"type": "function_call_output", "call_id": None, "output": "x"}]}, "input[0].call_id"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
            "input[0].content[0].file_id",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_url": "https://x/a.pdf"}]}]},
            "input[0].content[0].file_url",
        ),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x/a.png"}]}]},
            "input[0].content[0]",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "refusal", "refusal": "no"}]}]},
            "input[0].content[0]",
        ),
        ({"input": [{"role": "tool", "content": "Hi"}]}, "input[0].role"),
        (
            {
                "input": [
                    {
                        "type": "function_call_output",
                        "call_id": "c",
                        "output": [{"type": "input_image", "image_url": "https://x/a.png"}],
                    }
                ]
            },
            "input[0].output[0]",
        ),
        ({"input": "Hi", "background": True}, "background"),
        ({"input": "Hi", "conversation": "conv_1"}, "conversation"),
        ({"input": "Hi", "prompt": {"id": "pmpt_1"}}, "prompt"),
        ({}, "input"),
        ({"input": []}, "input"),
        ({"input": "Hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "Hi", "temperature": 3}, "temperature"),
        ({"input": "Hi", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"input": "Hi", "text": {"format": {"type": "grammar"}}}, "text.format.type"),
        ({"input": 42}, "input"),
    ],
)
def test_unsupported_or_invalid_input_is_a_400_naming_the_param(request_: dict[str, Any], param: str) -> None:
    error = refused(request_)

    assert error.param == param, error.message
    assert error.type == "invalid_request_error"
    assert error.message


def test_a_body_that_is_not_json() -> None:
    with pytest.raises(InvalidRequest) as raised:
        decode_request(b"{not json", SCHEMAS)

    assert raised.value.code == "invalid_json"


def test_model_is_required() -> None:
    with pytest.raises(InvalidRequest) as raised:
        decode_request(b'{"input": "Hi"}', SCHEMAS)

    assert raised.value.param == "model"


# -------------------------------------------------------------------------------------------------- answers


def completion(
    message: dict[str, Any], finish_reason: str = "stop", usage: dict[str, Any] | None = None
) -> ChatCompletion:
    body = {
        "id": "chatcmpl-1",
        "created": 1,
        "model": "upstream-model",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return msgspec.json.decode(json.dumps(body), type=ChatCompletion)


def answer(message: dict[str, Any], finish_reason: str = "stop", **request: Any) -> dict[str, Any]:
    parsed = decode_request(json.dumps({"model": "openrouter/some-model", "input": "Hi", **request}).encode(), SCHEMAS)
    response = render(
        new_response(parsed), [completion_events(normalise_completion(completion(message, finish_reason)))]
    )
    body: dict[str, Any] = json.loads(msgspec.json.encode(response))
    assert_valid(body, "Response")
    return body


def test_a_text_answer() -> None:
    body = answer({"content": "Hello."})

    assert body["object"] == "response"
    assert body["id"].startswith("resp_")
    assert body["status"] == "completed"
    assert body["completed_at"] >= body["created_at"]
    assert body["model"] == "upstream-model"
    assert body["error"] is None
    assert body["incomplete_details"] is None
    (message,) = body["output"]
    assert message["id"].startswith("msg_")
    assert message == {
        "type": "message",
        "id": message["id"],
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Hello.", "annotations": [], "logprobs": []}],
    }
    assert "usage" not in body  # the upstream reported none


def test_tool_calls_keep_their_ids_as_call_ids() -> None:
    calls = [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location":"Lyon"}'},
        },
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]

    body = answer({"content": None, "tool_calls": calls}, "tool_calls")

    assert [item["type"] for item in body["output"]] == ["function_call", "function_call"]
    assert [(item["call_id"], item["name"], item["arguments"]) for item in body["output"]] == [
        ("call_a", "get_weather", '{"location":"Lyon"}'),
        ("call_b", "get_time", "{}"),
    ]
    assert all(item["id"].startswith("fc_") and item["status"] == "completed" for item in body["output"])
    assert len({item["id"] for item in body["output"]}) == 2


def test_reasoning_text_and_tool_call_in_openais_order() -> None:
    body = answer(
        {
            "content": "Let me check.",
            "reasoning_content": "Weather needs a tool.",
            "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        "tool_calls",
    )

    assert [item["type"] for item in body["output"]] == ["reasoning", "message", "function_call"]
    reasoning = body["output"][0]
    assert reasoning["id"].startswith("rs_")
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Weather needs a tool."}]
    assert reasoning["summary"] == []


def test_a_refusal() -> None:
    (message,) = answer({"content": None, "refusal": "I cannot help with that."})["output"]

    assert message["content"] == [{"type": "refusal", "refusal": "I cannot help with that."}]


def test_an_empty_answer_still_has_a_message() -> None:
    (message,) = answer({"content": None})["output"]

    assert message["content"] == [{"type": "output_text", "text": "", "annotations": [], "logprobs": []}]


@pytest.mark.parametrize(
    ("finish_reason", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_an_answer_cut_short_is_incomplete(finish_reason: str, reason: str) -> None:
    body = answer({"content": "Half an"}, finish_reason)

    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": reason}
    assert body["completed_at"] is None
    assert body["output"][0]["status"] == "incomplete"


def test_usage_in_the_responses_api_names() -> None:
    parsed = decode_request(b'{"model": "m", "input": "Hi"}', SCHEMAS)
    usage = {
        "prompt_tokens": 306,
        "completion_tokens": 85,
        "total_tokens": 391,
        "prompt_tokens_details": {"cached_tokens": 256},
        "completion_tokens_details": {"reasoning_tokens": 31},
    }

    answered = normalise_completion(completion({"content": "Hi"}, usage=usage))
    response = render(new_response(parsed), [completion_events(answered)])

    assert msgspec.to_builtins(response.usage) == {
        "input_tokens": 306,
        "input_tokens_details": {"cached_tokens": 256, "cache_write_tokens": 0},
        "output_tokens": 85,
        "output_tokens_details": {"reasoning_tokens": 31},
        "total_tokens": 391,
    }


def test_the_response_echoes_the_request() -> None:
    body = answer(
        {"content": "Hi"},
        instructions="Be brief.",
        tools=[{"type": "function", "name": "ping"}],
        tool_choice={"type": "function", "name": "ping"},
        temperature=0.5,
        top_p=0.8,
        max_output_tokens=100,
        parallel_tool_calls=False,
        metadata={"run": "7"},
        store=False,
        user="u-1",
        text={"format": {"type": "json_object"}},
        reasoning={"effort": "high"},
    )

    assert body["instructions"] == "Be brief."
    assert body["tools"] == [
        {"type": "function", "name": "ping", "description": None, "parameters": None, "strict": None}
    ]
    assert body["tool_choice"] == {"type": "function", "name": "ping"}
    assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.5, 0.8, 100)
    assert body["parallel_tool_calls"] is False
    assert body["metadata"] == {"run": "7"}
    assert body["store"] is False
    assert body["user"] == "u-1"
    assert body["text"] == {"format": {"type": "json_object"}}
    assert body["reasoning"] == {"effort": "high", "summary": None}


def test_output_items_read_back_as_input() -> None:
    """What continuing a stored response relies on: an answer's output is valid input."""
    body = answer(
        {
            "content": "Checking.",
            "reasoning_content": "Thinking.",
            "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        "tool_calls",
    )

    replayed = upstream_body({"input": [{"role": "user", "content": "Hi"}, *body["output"]]})

    assert replayed["messages"][1] == {
        "role": "assistant",
        "content": "Checking.",
        "reasoning_content": "Thinking.",
        "tool_calls": [{"type": "function", "id": "call_a", "function": {"name": "f", "arguments": "{}"}}],
    }
