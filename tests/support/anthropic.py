"""Checking what Anthropic clients get, with the official `anthropic` SDK's own types.

The SDK builds its objects without validating them (`construct`), so a client would not notice a missing
field until it used it: these helpers validate raw bodies and events with pydantic against the SDK's types,
check that they hold no field Anthropic's API does not send, and check the stream's grammar (one
`message_start` first, blocks numbered in the order they start, every delta inside its block,
`message_delta` then `message_stop` last, or an `error` event instead of a clean end).
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse

__all__ = [
    "ERROR_TYPES",
    "assert_anthropic_error",
    "assert_count",
    "assert_message",
    "assert_stream",
    "parse_events",
]

# Anthropic's documented error types (the SDK's `ErrorResponse` lacks `request_too_large`, which its docs list).
ERROR_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "timeout_error",
    "api_error",
    "overloaded_error",
}
MESSAGE_KEYS = {"id", "type", "role", "content", "model", "stop_reason", "stop_sequence", "usage"}
USAGE_KEYS = {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}
BLOCK_KEYS = {
    "text": {"type", "text"},
    "thinking": {"type", "thinking", "signature"},
    "redacted_thinking": {"type", "data"},
    "tool_use": {"type", "id", "name", "input"},
}

_events = pydantic.TypeAdapter(RawMessageStreamEvent)


def assert_message(body: dict[str, Any]) -> Message:
    """A whole message, valid as the SDK's `Message`, with only the fields Anthropic's API writes."""
    assert set(body) == MESSAGE_KEYS, body
    assert set(body["usage"]) == USAGE_KEYS, body["usage"]
    for block in body["content"]:
        assert set(block) == BLOCK_KEYS[block["type"]], block
    assert body["id"].startswith("msg_")
    return Message.model_validate(body)


def assert_count(body: dict[str, Any]) -> MessageTokensCount:
    assert set(body) == {"input_tokens"}, body
    return MessageTokensCount.model_validate(body)


def assert_anthropic_error(body: Any, kind: str | None = None) -> dict[str, Any]:
    """An error in Anthropic's envelope, `{"type": "error", "error": {"type", "message"}, "request_id"}`;
    returns the `error` object."""
    assert isinstance(body, dict), body
    assert set(body) <= {"type", "error", "request_id"}, body
    assert body["type"] == "error"
    error = body["error"]
    assert set(error) == {"type", "message"}, error
    assert error["type"] in ERROR_TYPES, error
    assert isinstance(error["message"], str)
    assert error["message"]
    if error["type"] != "request_too_large":
        ErrorResponse.model_validate(body)
    if kind is not None:
        assert error["type"] == kind, error
    return dict(error)


def parse_events(text: str) -> list[dict[str, Any]]:
    """Every SSE event of an Anthropic stream, checking that each is named as its `type` says."""
    events: list[dict[str, Any]] = []
    for frame in text.split("\n\n"):
        if not frame.strip():
            continue
        lines = frame.split("\n")
        assert len(lines) == 2, frame
        name, data = lines
        assert name.startswith("event: "), frame
        assert data.startswith("data: "), frame
        event = json.loads(data.removeprefix("data: "))
        assert event["type"] == name.removeprefix("event: "), frame
        events.append(event)
    return events


def assert_stream(events: list[dict[str, Any]], *, failed: bool = False) -> dict[str, Any]:
    """A stream in Anthropic's grammar, every event valid as the SDK's; returns the message it adds up to
    (content blocks by index, with tool inputs parsed), or, for a `failed` stream, the error."""
    assert events, "an empty stream"
    assert events[0]["type"] == "message_start"
    message: dict[str, Any] = dict(events[0]["message"])
    assert message["content"] == []
    blocks: dict[int, dict[str, Any]] = {}
    open_blocks: set[int] = set()
    inputs: dict[int, str] = {}
    end = len(events) - (1 if failed else 2)
    for event in events[1:end]:
        kind = event["type"]
        if kind == "ping":
            assert event == {"type": "ping"}
            continue
        _events.validate_python(event)
        index = event.get("index")
        if kind == "content_block_start":
            assert index == len(blocks), f"block {index} started out of order"
            assert set(event["content_block"]) == BLOCK_KEYS[event["content_block"]["type"]], event
            blocks[index] = dict(event["content_block"])
            open_blocks.add(index)
        elif kind == "content_block_delta":
            assert index in open_blocks, f"a delta for block {index}, which is not open"
            delta, block = event["delta"], blocks[index]
            if delta["type"] == "text_delta":
                assert block["type"] == "text", event
                assert delta["text"], "an empty text delta"
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                assert block["type"] == "thinking"
                block["thinking"] += delta["thinking"]
            else:
                assert delta["type"] == "input_json_delta", event
                assert block["type"] == "tool_use", event
                inputs[index] = inputs.get(index, "") + delta["partial_json"]
        elif kind == "content_block_stop":
            assert index in open_blocks, f"block {index} stopped twice or never started"
            open_blocks.remove(index)
        else:
            raise AssertionError(f"unexpected {kind} event in the middle of a stream")
    if failed:
        last = events[-1]
        assert last["type"] == "error", last
        return assert_anthropic_error(last)
    assert not open_blocks, f"blocks {open_blocks} never stopped"
    delta, stop = events[-2], events[-1]
    assert delta["type"] == "message_delta", events[-2:]
    assert stop == {"type": "message_stop"}, events[-2:]
    _events.validate_python(delta)
    assert set(delta["usage"]) == USAGE_KEYS, delta["usage"]
    for index, text in inputs.items():
        blocks[index]["input"] = json.loads(text)
    message["content"] = [blocks[index] for index in sorted(blocks)]
    message["stop_reason"] = delta["delta"]["stop_reason"]
    message["stop_sequence"] = delta["delta"]["stop_sequence"]
    message["usage"] = {**message["usage"], **delta["usage"]}
    assert_message(message)
    return message
