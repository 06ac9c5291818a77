"""Upstream chunks, as answer events, to Responses stream events: order, numbering, items, failures."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from app.pipeline.normalise import ChunkNormaliser, completion_events, normalise_completion
from app.responses.decode import decode_request
from app.responses.events import ResponseCreated, encode_event
from app.responses.from_chat import new_response
from app.responses.stream import ResponseEventWriter, render
from app.schemas import SchemaCompiler
from providers.errors import UpstreamError, UpstreamRateLimited
from providers.schema import ChatCompletion, ChatCompletionChunk
from tests.support.responses import assert_event_stream

_chunk = msgspec.json.Decoder(ChatCompletionChunk)

SCHEMAS = SchemaCompiler()


def delta(finish_reason: str | None = None, index: int = 0, **fields: Any) -> dict[str, Any]:
    """One upstream chunk with one choice."""
    choice = {"index": index, "delta": fields, "finish_reason": finish_reason}
    return {"id": "chatcmpl-1", "created": 1, "model": "upstream-model", "choices": [choice]}


def call(index: int, id_: str | None = None, name: str | None = None, arguments: str | None = None) -> dict[str, Any]:
    function = {key: value for key, value in (("name", name), ("arguments", arguments)) if value is not None}
    tool_call: dict[str, Any] = {"index": index, "function": function}
    if id_ is not None:
        tool_call |= {"id": id_, "type": "function"}
    return tool_call


USAGE = {"id": "chatcmpl-1", "created": 1, "model": "upstream-model", "choices": [], "usage": {
    "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
}}  # fmt: skip


def writer() -> ResponseEventWriter:
    return ResponseEventWriter(new_response(decode_request(b'{"model": "openrouter/m", "input": "Hi"}', SCHEMAS)))


def run(chunks: list[dict[str, Any]], *, error: UpstreamError | None = None) -> list[dict[str, Any]]:
    """The events for an upstream's chunks, normalised as the handler normalises them; then the end of the
    stream, or `error` after the last chunk."""
    events_writer, normaliser = writer(), ChunkNormaliser()
    events = []
    for raw in chunks:
        events += events_writer.feed(normaliser.feed(_chunk.decode(json.dumps(raw))))
    if error is not None:
        events += events_writer.fail(error)
    else:
        for batch in normaliser.finish():
            events += events_writer.feed(batch)
        events += events_writer.finish()
    return [json.loads(msgspec.json.encode(event)) for event in events]


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"].removeprefix("response.") for event in events]


# ----------------------------------------------------------------------------------------------------- text


def test_a_text_answer_event_by_event() -> None:
    events = run([delta(role="assistant", content=""), delta(content="Hel"), delta(content="lo."), delta("stop")])

    assert types(events) == [
        "created",
        "in_progress",
        "output_item.added",
        "content_part.added",
        "output_text.delta",
        "output_text.delta",
        "output_text.done",
        "content_part.done",
        "output_item.done",
        "completed",
    ]
    final = assert_event_stream(events)
    assert final["status"] == "completed"
    assert final["model"] == "upstream-model"
    (message,) = final["output"]
    assert message["content"][0]["text"] == "Hello."
    assert [event["delta"] for event in events if event["type"] == "response.output_text.delta"] == [
        "Hel",
        "lo.",
    ]
    assert events[2]["item"] == {"type": "message", "id": message["id"], "role": "assistant", "status": "in_progress",
                                 "content": []}  # fmt: skip


def test_usage_comes_from_the_usage_chunk() -> None:
    final = assert_event_stream(run([delta(content="Hi"), delta("stop"), USAGE]))

    assert final["usage"]["input_tokens"] == 10
    assert final["usage"]["output_tokens"] == 5
    assert final["usage"]["total_tokens"] == 15


def test_a_refusal_after_text_is_a_second_part_of_the_same_message() -> None:
    events = run([delta(content="Well"), delta(refusal="I cannot."), delta("stop")])

    final = assert_event_stream(events)
    (message,) = final["output"]
    assert message["content"] == [
        {"type": "output_text", "text": "Well", "annotations": [], "logprobs": []},
        {"type": "refusal", "refusal": "I cannot."},
    ]
    assert [event["content_index"] for event in events if event["type"] == "response.content_part.added"] == [
        0,
        1,
    ]
    assert "refusal.done" in types(events)


def test_an_answer_cut_short_is_incomplete() -> None:
    events = run([delta(content="Half an"), delta("length")])

    final = assert_event_stream(events)
    assert events[-1]["type"] == "response.incomplete"
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"


def test_an_empty_answer_still_has_a_message() -> None:
    final = assert_event_stream(run([delta(role="assistant", content=""), delta("stop")]))

    (message,) = final["output"]
    assert message["content"] == [{"type": "output_text", "text": "", "annotations": [], "logprobs": []}]


def test_other_choices_are_ignored() -> None:
    final = assert_event_stream(run([delta(content="Yes"), delta(index=1, content="No"), delta("stop")]))

    assert [item["content"][0]["text"] for item in final["output"]] == ["Yes"]


# ----------------------------------------------------------------------------------------------- tool calls


def test_tool_calls_event_by_event() -> None:
    events = run(
        [
            delta(role="assistant", content=None),
            delta(tool_calls=[call(0, "call_a", "get_weather", "")]),
            delta(tool_calls=[call(0, arguments='{"location":')]),
            delta(tool_calls=[call(0, arguments='"Lyon"}')]),
            delta(tool_calls=[call(1, "call_b", "get_time", "{}")]),
            delta("tool_calls"),
        ]
    )

    assert types(events) == [
        "created",
        "in_progress",
        "output_item.added",
        "function_call_arguments.delta",
        "function_call_arguments.delta",
        "output_item.added",
        "function_call_arguments.delta",
        "function_call_arguments.done",
        "output_item.done",
        "function_call_arguments.done",
        "output_item.done",
        "completed",
    ]
    final = assert_event_stream(events)
    assert [(item["call_id"], item["name"], item["arguments"]) for item in final["output"]] == [
        ("call_a", "get_weather", '{"location":"Lyon"}'),
        ("call_b", "get_time", "{}"),
    ]
    assert events[2]["item"]["status"] == "in_progress"
    assert events[2]["item"]["arguments"] == ""


def test_interleaved_argument_fragments_of_parallel_calls() -> None:
    final = assert_event_stream(
        run(
            [
                delta(tool_calls=[call(0, "call_a", "f", '{"a":'), call(1, "call_b", "g", '{"b":')]),
                delta(tool_calls=[call(1, arguments="2}")]),
                delta(tool_calls=[call(0, arguments="1}")]),
                delta("tool_calls"),
            ]
        )
    )

    assert [(item["name"], item["arguments"]) for item in final["output"]] == [
        ("f", '{"a":1}'),
        ("g", '{"b":2}'),
    ]


def test_a_call_is_announced_once_its_name_arrives() -> None:
    events = run(
        [
            delta(tool_calls=[call(0, "call_a", None, '{"x"')]),
            delta(tool_calls=[call(0, None, "f", ":1}")]),
            delta("tool_calls"),
        ]
    )

    final = assert_event_stream(events)
    (item,) = final["output"]
    assert (item["name"], item["arguments"]) == ("f", '{"x":1}')
    added = next(event for event in events if event["type"] == "response.output_item.added")
    assert added["item"]["name"] == "f"


def test_text_then_a_call_closes_the_message_first() -> None:
    events = run(
        [
            delta(content="Let me check."),
            delta(tool_calls=[call(0, "call_a", "f", "{}")]),
            delta("tool_calls"),
        ]
    )

    final = assert_event_stream(events)
    assert [item["type"] for item in final["output"]] == ["message", "function_call"]
    message_done = types(events).index("output_item.done")
    assert message_done < types(events).index("output_item.added", 3)


def test_reasoning_then_text_then_a_call() -> None:
    events = run(
        [
            delta(reasoning_content="Think"),
            delta(reasoning_content="ing."),
            delta(content="Checking."),
            delta(tool_calls=[call(0, "call_a", "f", "{}")]),
            delta("tool_calls"),
        ]
    )

    final = assert_event_stream(events)
    assert [item["type"] for item in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["output"][0]["content"] == [{"type": "reasoning_text", "text": "Thinking."}]
    assert "reasoning_text.delta" in types(events)
    assert "reasoning_text.done" in types(events)


def test_streamed_and_whole_answers_have_the_same_output() -> None:
    """Both paths build the same items (ids aside) from the same answer."""
    streamed = assert_event_stream(
        run(
            [
                delta(reasoning_content="Thinking."),
                delta(content="Checking."),
                delta(tool_calls=[call(0, "call_a", "f", "{}")]),
                delta("tool_calls"),
            ]
        )
    )
    message = {
        "role": "assistant",
        "content": "Checking.",
        "reasoning_content": "Thinking.",
        "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    completion = msgspec.convert(
        {
            "id": "c",
            "created": 1,
            "model": "upstream-model",
            "choices": [{"message": message, "finish_reason": "tool_calls"}],
        },
        ChatCompletion,
    )
    whole = msgspec.to_builtins(render(writer().response, [completion_events(normalise_completion(completion))]))

    def without_ids(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{key: value for key, value in item.items() if key != "id"} for item in output]

    assert without_ids(streamed["output"]) == without_ids(whole["output"])


# ------------------------------------------------------------------------------------------------- failures


def test_a_failure_mid_stream_ends_with_response_failed_then_error() -> None:
    events = run(
        [delta(content="Half"), delta(tool_calls=[call(0, "call_a", "f", '{"a"')])],
        error=UpstreamError("The upstream went away.", provider="openrouter"),
    )

    final = assert_event_stream(events, failed=True)
    assert final["error"] == {"code": "server_error", "message": "The upstream went away."}
    assert [(item["type"], item["status"]) for item in final["output"]] == [
        ("message", "completed"),
        ("function_call", "incomplete"),
    ]
    error = events[-1]
    assert (error["code"], error["message"], error["param"]) == (
        "upstream_error",
        "The upstream went away.",
        None,
    )
    # The nested object is what OpenAI's SDKs raise on.
    assert error["error"] == {
        "message": "The upstream went away.",
        "type": "server_error",
        "param": None,
        "code": "upstream_error",
    }


def test_a_rate_limit_mid_stream_has_openais_code() -> None:
    events = run([delta(content="Half")], error=UpstreamRateLimited("Slow down.", provider="openrouter"))

    assert assert_event_stream(events, failed=True)["error"]["code"] == "rate_limit_exceeded"


def test_a_failure_before_any_output_still_starts_the_response() -> None:
    events = run([], error=UpstreamError("Gone.", provider="openrouter"))

    assert types(events) == ["created", "in_progress", "failed", "error"]
    assert_event_stream(events, failed=True)


# ---------------------------------------------------------------------------------------------------- frames


def test_sse_frame_names_the_event() -> None:
    frame = encode_event(ResponseCreated(sequence_number=0, response=writer().response))

    name, data, blank, end = frame.split(b"\n")
    assert name == b"event: response.created"
    assert json.loads(data.removeprefix(b"data: "))["type"] == "response.created"
    assert (blank, end) == (b"", b"")


@pytest.mark.parametrize("finish", ["stop", "length"])
def test_numbering_counts_every_event_from_zero(finish: str) -> None:
    events = run([delta(content="a"), delta(tool_calls=[call(0, "c", "f", "{}")]), delta(finish), USAGE])

    assert [event["sequence_number"] for event in events] == list(range(len(events)))
