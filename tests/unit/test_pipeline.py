"""The answer pipeline's parts: events from chunks, a whole answer from events, and answers made of turns."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import pytest

from app.chat.render import ChunkWriter
from app.pipeline.answer import AnswerBuilder, add_usage
from app.pipeline.events import (
    ChoiceFinished,
    ChoiceStarted,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    TurnMeta,
    TurnStarted,
    TurnUsage,
)
from app.pipeline.normalise import ChunkNormaliser, normalise_completion
from app.responses.decode import decode_request
from app.responses.from_chat import new_response
from app.responses.stream import ResponseEventWriter
from app.schemas import SchemaCompiler
from providers.mock import MockProvider, MockSettings
from providers.request import ChatRequest
from providers.schema import UNSET, CompletionTokensDetails, PromptTokensDetails, Usage

if TYPE_CHECKING:
    from app.pipeline.events import AnswerEvent

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]  # fmt: skip

SCHEMAS = SchemaCompiler()


def mock_request(**fields: Any) -> ChatRequest:
    body = {"model": "mock/parallel", "messages": [{"role": "user", "content": "Weather in 'Oslo'?"}], **fields}
    return ChatRequest.decode(json.dumps(body).encode())


@pytest.mark.parametrize("scenario", ["text", "tool", "parallel", "noargs"])
async def test_a_streamed_answer_adds_up_to_what_a_whole_answer_says(scenario: str) -> None:
    provider = MockProvider(MockSettings(), httpx.AsyncHTTPTransport())
    request = mock_request(tools=TOOLS)
    whole = normalise_completion(await provider.complete(request, scenario))
    normaliser, builder = ChunkNormaliser(), AnswerBuilder()
    async for chunk in provider.stream(request, scenario):
        builder.feed(normaliser.feed(chunk))
    for batch in normaliser.finish():
        builder.feed(batch)
    streamed = builder.completion()

    def comparable(choice: Any) -> dict[str, Any]:
        message = msgspec.to_builtins(choice.message)
        for call in message.get("tool_calls", []):
            call.pop("id")  # each answer makes up its own ids
        return {"message": message, "finish_reason": choice.finish_reason}

    assert [comparable(choice) for choice in streamed.choices] == [comparable(choice) for choice in whole.choices]
    assert streamed.usage == whole.usage
    assert builder.tool_calls == len(whole.choices[0].message.tool_calls or ())


def test_usage_adds_up_across_turns_detail_by_detail() -> None:
    first = Usage(
        prompt_tokens=10,
        completion_tokens=4,
        total_tokens=14,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=6),
    )
    second = Usage(
        prompt_tokens=30,
        completion_tokens=5,
        total_tokens=35,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=20, audio_tokens=1),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=3),
    )

    total = add_usage(add_usage(None, first), second)

    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (40, 9, 49)
    assert total.prompt_tokens_details == PromptTokensDetails(cached_tokens=26, audio_tokens=1)
    assert total.completion_tokens_details == CompletionTokensDetails(reasoning_tokens=3)


def turn(number: int, *events: AnswerEvent) -> list[list[AnswerEvent]]:
    """One turn's batches: its start, then each event in a batch of its own."""
    return [[TurnStarted(id=f"chatcmpl-{number}", created=number, model="m")], *([event] for event in events)]


def call_turn(number: int, call_id: str, text: str) -> list[list[AnswerEvent]]:
    """A turn that says `text`, then calls `get_time` as its call 0, as every turn numbers its calls."""
    return turn(
        number,
        ChoiceStarted(0, "", None),
        TextDelta(0, text),
        ToolCallStarted(0, 0, call_id, "get_time", "{}"),
        ToolCallDone(0, 0, call_id, "get_time", "{}"),
        ChoiceFinished(0, "tool_calls"),
        TurnUsage(Usage(prompt_tokens=number, completion_tokens=1, total_tokens=number + 1)),
    )


def test_responses_stream_of_two_turns_keeps_each_turns_call_apart() -> None:
    writer = ResponseEventWriter(new_response(decode_request(b'{"model": "mock/tool", "input": "Hi"}', SCHEMAS)))
    events = []
    for batch in [*call_turn(1, "call_first", "Let me look. "), *call_turn(2, "call_second", "Once more. ")]:
        events += writer.feed(batch)
    events += writer.finish()

    response = msgspec.to_builtins(writer.response)
    calls = [item["call_id"] for item in response["output"] if item["type"] == "function_call"]
    assert calls == ["call_first", "call_second"]
    sent = [msgspec.to_builtins(event) for event in events]
    added = [event["output_index"] for event in sent if event["type"] == "response.output_item.added"]
    assert sorted(added) == list(range(len(response["output"])))  # every item has an output index of its own
    assert (response["usage"]["input_tokens"], response["usage"]["output_tokens"]) == (3, 2)


def test_each_chat_chunk_is_whole_with_the_turns_fields_as_last_reported() -> None:
    writer = ChunkWriter(include_usage=True)
    model = 'a model named "choices":[]'  # the key a frame's choices are written after, inside a value
    batches: list[list[AnswerEvent]] = [
        [TurnStarted(id="chatcmpl-1", created=7, model=model), TurnMeta("fp_1", UNSET), ChoiceStarted(0, "", None)],
        [TextDelta(0, "It is ")],
        [ReasoningDelta(0, "the user wants the time")],
        [TurnMeta("fp_2", "default")],
        [ToolCallStarted(0, 0, "call_1", "get_time", "")],
        [ToolCallDelta(0, 0, None, '{"tz": ')],
        [ToolCallDelta(0, 0, None, '"UTC"}')],
        [ToolCallDone(0, 0, "call_1", "get_time", '{"tz": "UTC"}'), ChoiceFinished(0, "tool_calls")],
        [TurnUsage(Usage(prompt_tokens=5, completion_tokens=3, total_tokens=8))],
    ]
    frames = [writer.write(batch) for batch in batches]
    done = writer.finish()

    assert frames[3] == frames[8] == b""  # nothing a client sees until the next choice, or the end
    assert all(frame.startswith(b"data: {") and frame.count(b"\n\n") == 1 for frame in frames if frame)
    chunks = [json.loads(frame.removeprefix(b"data: ")) for frame in frames if frame]
    first, later = {"system_fingerprint": "fp_1"}, {"system_fingerprint": "fp_2", "service_tier": "default"}
    top = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": model}

    def chunk(delta: dict[str, Any], meta: dict[str, str], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {**top, "choices": [choice], **meta}

    def arguments(text: str) -> dict[str, Any]:
        return {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}

    opening = {"name": "get_time", "arguments": ""}

    assert chunks == [
        chunk({"role": "assistant", "content": "", "refusal": None}, first),
        chunk({"content": "It is "}, first),
        chunk({"reasoning_content": "the user wants the time"}, first),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": opening}]}, later),
        chunk(arguments('{"tz": '), later),
        chunk(arguments('"UTC"}'), later),
        chunk({}, later, "tool_calls"),
    ]
    usage, end = done.split(b"\n\n", 1)
    assert json.loads(usage.removeprefix(b"data: ")) == {
        **top,
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        **later,
    }
    assert end == b"data: [DONE]\n\n"


def test_chat_chunks_of_two_turns_read_as_one_answer() -> None:
    writer = ChunkWriter(include_usage=True)
    frames = [writer.write(batch) for batch in [*call_turn(1, "call_a", "One. "), *call_turn(2, "call_b", "Two.")]]
    frames.append(writer.finish())
    chunks = [
        json.loads(line.removeprefix(b"data: "))
        for frame in frames
        for line in frame.split(b"\n\n")
        if line.startswith(b"data: {")
    ]

    assert {chunk["id"] for chunk in chunks} == {"chatcmpl-1"}
    roles = [choice["delta"].get("role") for chunk in chunks for choice in chunk["choices"]]
    assert roles.count("assistant") == 1
    assert "".join(choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]) == (
        "One. Two."
    )
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert frames[-1].endswith(b"data: [DONE]\n\n")
