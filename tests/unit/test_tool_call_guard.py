"""The tool-call guard on its own: which tool calls it turns into a failed attempt, and how fast."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
import pytest

from app.routing.guard import InvalidToolCall, check_tool_calls, function_schemas
from app.schemas import SchemaCompiler
from providers.schema import ChatCompletion, ChatCompletionRequest

WEATHER_PARAMETERS = {
    "type": "object",
    "$defs": {"unit": {"enum": ["celsius", "fahrenheit"]}},
    "properties": {
        "city": {"type": "string", "pattern": "^(a+)+$"},
        "unit": {"$ref": "#/$defs/unit"},
        "days": {"type": "array", "items": {"type": "object", "properties": {"day": {"type": "integer"}}}},
    },
    "required": ["city"],
}

SCHEMAS = SchemaCompiler()


def request(parameters: Any = WEATHER_PARAMETERS) -> ChatCompletionRequest:
    function: dict[str, Any] = {"name": "get_weather"}
    if parameters is not None:
        function["parameters"] = parameters
    return msgspec.convert(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "custom", "custom": {"name": "grammar"}}, {"type": "function", "function": function}],
        },
        ChatCompletionRequest,
    )


def completion(arguments: Any, name: str = "get_weather") -> ChatCompletion:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": text}}
    return msgspec.convert(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                }
            ],
        },
        ChatCompletion,
    )


def rejection(params: ChatCompletionRequest, answer: ChatCompletion) -> str:
    with pytest.raises(InvalidToolCall) as caught:
        check_tool_calls(params, answer, "openrouter", SCHEMAS)
    return caught.value.message


def test_valid_arguments_pass() -> None:
    check_tool_calls(
        request(), completion({"city": "aaa", "unit": "celsius", "days": [{"day": 1}]}), "openrouter", SCHEMAS
    )


def test_a_backtracking_pattern_with_a_long_argument_is_rejected_at_once() -> None:
    # The 27-character argument from the report: about 6 s with a backtracking engine, doubling per character.
    started = time.perf_counter()
    message = rejection(request(), completion({"city": "a" * 27 + "!"}))
    elapsed = time.perf_counter() - started

    assert elapsed < 0.1
    assert "'get_weather'" in message
    assert "at city:" in message


@pytest.mark.parametrize(
    ("arguments", "where"),
    [
        pytest.param({"city": "a", "unit": "kelvin"}, "at unit:", id="through-a-ref"),
        pytest.param({"city": "a", "days": [{"day": 1}, {"day": "two"}]}, "at days[1].day:", id="nested"),
        pytest.param({"unit": "celsius"}, "at city:", id="missing-required"),
        pytest.param([], "at (root):", id="root"),
    ],
)
def test_arguments_the_schema_rejects_name_the_tool_and_the_path(arguments: Any, where: str) -> None:
    message = rejection(request(), completion(arguments))

    assert message.startswith("The model called 'get_weather' with arguments its schema rejects")
    assert where in message


def test_a_tool_that_was_not_offered_is_rejected() -> None:
    assert "not offered: 'get_time'" in rejection(request(), completion({}, name="get_time"))


@pytest.mark.parametrize("arguments", ['{"city": "a"', "[" * 100_000 + "]" * 100_000])
def test_arguments_that_cannot_be_decoded_are_rejected(arguments: str) -> None:
    assert "not JSON" in rejection(request(), completion(arguments))


def test_arguments_nested_past_the_limit_are_rejected_not_a_crash() -> None:
    deep: Any = {}
    for _ in range(200):
        deep = {"day": deep}

    assert "nested deeper than" in rejection(request({"type": "object"}), completion({"days": deep}))


@pytest.mark.parametrize("parameters", [None, {"$ref": "#/nope"}])
def test_without_a_usable_schema_any_json_arguments_pass(parameters: Any) -> None:
    # An unusable schema is the client's fault, refused when the request arrives; the guard does not blame the model.
    check_tool_calls(request(parameters), completion({"anything": 1}), "openrouter", SCHEMAS)


def test_function_schemas_lists_function_tools_where_they_are() -> None:
    assert list(function_schemas(request())) == [("tools[1].function.parameters", "get_weather", WEATHER_PARAMETERS)]
