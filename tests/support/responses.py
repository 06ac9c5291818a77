"""Checks on Responses API answers that unit and end-to-end tests share: SSE framing and event order."""

from __future__ import annotations

import json
from typing import Any

from tests.support.openapi import assert_valid

__all__ = ["FINAL_EVENTS", "assert_event_stream", "parse_response_sse"]

FINAL_EVENTS = ("response.completed", "response.incomplete")


def parse_response_sse(text: str) -> list[dict[str, Any]]:
    """The events of a Responses stream, checking OpenAI's framing: `event: <type>` then `data: <json>`."""
    assert text.endswith("\n\n"), f"stream does not end with a blank line: {text[-80:]!r}"
    events: list[dict[str, Any]] = []
    for frame in text[:-2].split("\n\n"):
        lines = frame.split("\n")
        assert len(lines) == 2, f"a frame is not one event line and one data line: {frame!r}"
        name, data = lines
        assert name.startswith("event: "), f"not an event line: {name!r}"
        assert data.startswith("data: "), f"not a data line: {data!r}"
        event = json.loads(data.removeprefix("data: "))
        assert event["type"] == name.removeprefix("event: "), (name, event["type"])
        events.append(event)
    return events


def assert_event_stream(events: list[dict[str, Any]], *, failed: bool = False) -> dict[str, Any]:
    """Every event valid against OpenAI's schema and in OpenAI's order; returns the final response.

    Sequence numbers count from 0; each output item is added, then filled, then done, under one id and
    output index (an `mcp_call` in OpenAI's order: in progress, its arguments, then completed or failed); the
    final response's output is exactly the items that were done (or, for a failed stream, ends with
    `response.failed` and an `error` event).
    """
    assert events, "no events"
    for position, event in enumerate(events):
        assert_valid(event, "ResponseStreamEvent")
        assert event["sequence_number"] == position, f"event {position} is numbered {event['sequence_number']}"
    assert [event["type"] for event in events[:2]] == ["response.created", "response.in_progress"]
    response_id = events[0]["response"]["id"]
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["output"] == []
    if failed:
        assert [event["type"] for event in events[-2:]] == ["response.failed", "error"]
        assert events[-1]["error"]["message"] == events[-1]["message"]
        assert all(event["type"] not in FINAL_EVENTS for event in events)
        final = events[-2]["response"]
        assert final["status"] == "failed"
        assert final["error"]["message"]
        assert final["id"] == response_id
        return final  # type: ignore[no-any-return]
    assert events[-1]["type"] in FINAL_EVENTS, events[-1]["type"]
    assert all(event["type"] not in ("response.failed", "error") for event in events)
    final = events[-1]["response"]
    assert final["id"] == response_id
    done = _check_items(events[2:-1])
    assert final["output"] == [done[index] for index in sorted(done)], "final output differs from items done"
    assert sorted(done) == list(range(len(done))), f"output indexes are not 0..n-1: {sorted(done)}"
    return final  # type: ignore[no-any-return]


def _check_items(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per output index: added once, then parts and deltas under its id, then done; returns the done items."""
    added: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    texts: dict[tuple[int, int], str] = {}
    arguments: dict[int, str] = {}
    mcp_steps: dict[int, list[str]] = {}
    for event in events:
        kind, index = event["type"], event.get("output_index")
        assert isinstance(index, int), event
        if kind == "response.output_item.added":
            assert index not in added, f"item {index} added twice"
            assert index == len(added), f"item {index} added out of order"
            added[index] = event["item"]
            # Items without a status (mcp_list_tools, mcp_approval_request) come whole.
            assert event["item"].get("status", "in_progress") == "in_progress"
            continue
        assert index in added, f"{kind} for item {index} before it was added"
        assert index not in done, f"{kind} for item {index} after it was done"
        item = added[index]
        if kind == "response.output_item.done":
            assert event["item"]["id"] == item["id"]
            assert event["item"]["type"] == item["type"]
            done[index] = event["item"]
            continue
        assert event["item_id"] == item["id"], (event, item)
        if kind.startswith("response.mcp_call"):
            mcp_steps.setdefault(index, []).append(kind.removeprefix("response.mcp_call"))
        if kind == "response.mcp_call_arguments.delta":
            arguments[index] = arguments.get(index, "") + event["delta"]
        elif kind == "response.mcp_call_arguments.done":
            assert event["arguments"] == arguments.get(index, ""), (event, arguments.get(index))
        elif kind.startswith("response.mcp_"):
            pass
        elif kind == "response.function_call_arguments.delta":
            arguments[index] = arguments.get(index, "") + event["delta"]
        elif kind == "response.function_call_arguments.done":
            assert event["arguments"] == arguments.get(index, ""), (event, arguments.get(index))
        elif kind.endswith(".delta"):
            key = (index, event["content_index"])
            texts[key] = texts.get(key, "") + event["delta"]
        elif kind in ("response.output_text.done", "response.reasoning_text.done"):
            assert event["text"] == texts.get((index, event["content_index"]), "")
        elif kind == "response.refusal.done":
            assert event["refusal"] == texts.get((index, event["content_index"]), "")
    assert sorted(done) == sorted(added), f"items added but never done: {set(added) - set(done)}"
    for index, item in done.items():
        if item["type"] == "function_call":
            assert item["arguments"] == arguments.get(index, ""), item
            assert item["call_id"] == added[index]["call_id"]
            assert item["name"] == added[index]["name"]
        elif item["type"] == "mcp_call":
            assert item["arguments"] == arguments.get(index, ""), item
            ended = ".completed" if item["status"] == "completed" else ".failed"
            assert mcp_steps.get(index) == [".in_progress", "_arguments.delta", "_arguments.done", ended], (
                index,
                mcp_steps.get(index),
            )
    return done
