"""The chat requests the conformance suites send, and what they expect back, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openai.types.chat import ChatCompletionMessageFunctionToolCall

from tests.support.openapi import assert_valid

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessage, ChatCompletionMessageParam

    from tests.e2e.upstreams import Dialect

__all__ = [
    "QUESTION",
    "STOCK",
    "WEATHER",
    "assert_exact_stream",
    "calls_from_stream",
    "function_calls",
    "model",
    "request",
]

WEATHER: ChatCompletionFunctionToolParam = {
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
STOCK: ChatCompletionFunctionToolParam = {
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
QUESTION: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is the weather in Paris?"}]
CHUNK_FIELDS = {"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier"}


def model(dialect: Dialect, scenario: str) -> str:
    return f"{dialect.name}/{scenario}"


def request(dialect: Dialect, scenario: str, **fields: Any) -> dict[str, Any]:
    return {"model": model(dialect, scenario), "messages": QUESTION, "tools": [WEATHER, STOCK], **fields}


def function_calls(message: ChatCompletionMessage) -> list[ChatCompletionMessageFunctionToolCall]:
    """The message's tool calls, each of them a function call."""
    calls = message.tool_calls or []
    functions = [call for call in calls if isinstance(call, ChatCompletionMessageFunctionToolCall)]
    assert functions == calls, f"not all function calls: {calls}"
    return functions


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
    """Every chunk is a valid OpenAI chunk with no field of a provider's own; one id, one role, one finish."""
    assert chunks
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
        assert set(chunk) <= CHUNK_FIELDS
    assert len({chunk["id"] for chunk in chunks}) == 1
    deltas = [choice["delta"] for chunk in chunks for choice in chunk["choices"]]
    assert sum("role" in delta for delta in deltas) == 1
    assert deltas[0].get("role") == "assistant"
    finishes = [choice["finish_reason"] for chunk in chunks for choice in chunk["choices"] if choice["finish_reason"]]
    assert len(finishes) == 1
