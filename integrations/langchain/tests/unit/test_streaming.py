"""Streaming: SSE chunks → AIMessageChunks that merge into the full answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
from langchain_core.exceptions import ModelAPIError

from langchain_llm_router import (
    LLMRouterAPIError,
    LLMRouterConnectionError,
    LLMRouterRateLimitError,
)

from llm_router_fakes import USAGE, BrokenStream, chunk, sse_body, sse_response

if TYPE_CHECKING:
    from langchain_core.messages import AIMessageChunk

    from langchain_llm_router import ChatLLMRouter

    from llm_router_fakes import FakeRouter


def text_stream(*, usage: dict[str, Any] | None = USAGE) -> httpx.Response:
    events: list[dict[str, Any] | str] = [
        chunk({"role": "assistant", "content": ""}),
        ": keep-alive",
        "",
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, finish_reason="stop"),
    ]
    if usage is not None:
        events.append(chunk(usage=usage))
    return sse_response(*events)


def collect(
    model: ChatLLMRouter, prompt: str = "Hi", **kwargs: Any
) -> list[AIMessageChunk]:
    return list(model.stream(prompt, **kwargs))


async def acollect(
    model: ChatLLMRouter, prompt: str = "Hi", **kwargs: Any
) -> list[AIMessageChunk]:
    return [c async for c in model.astream(prompt, **kwargs)]


def merge(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    merged = chunks[0]
    for piece in chunks[1:]:
        merged += piece
    return merged


def test_text_chunks_merge_and_metadata_arrives_once(fake_router: FakeRouter) -> None:
    fake_router.queue(text_stream())

    chunks = collect(fake_router.model())
    merged = merge(chunks)

    assert [c.content for c in chunks] == ["Hel", "lo", ""]
    assert merged.content == "Hello"
    assert chunks[-1].chunk_position == "last"
    assert [c.usage_metadata for c in chunks if c.usage_metadata] == [
        {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
    ]
    # Strings in response_metadata are concatenated when chunks merge, so
    # these must appear on exactly one chunk.
    assert merged.response_metadata["finish_reason"] == "stop"
    assert merged.response_metadata["model_name"] == "test/model"
    assert merged.response_metadata["model_provider"] == "llm-router"
    assert merged.id == "chatcmpl-456"


async def test_async_stream_matches_sync(fake_router: FakeRouter) -> None:
    fake_router.queue(text_stream())

    chunks = await acollect(fake_router.model())

    merged = merge(chunks)
    assert merged.content == "Hello"
    assert merged.usage_metadata == {
        "input_tokens": 11,
        "output_tokens": 7,
        "total_tokens": 18,
    }
    assert chunks[-1].chunk_position == "last"


def test_stream_usage_is_requested_by_default(fake_router: FakeRouter) -> None:
    fake_router.queue(text_stream())

    collect(fake_router.model())

    assert fake_router.last_body["stream"] is True
    assert fake_router.last_body["stream_options"] == {"include_usage": True}
    assert fake_router.requests[-1].headers["accept"] == "text/event-stream"


@pytest.mark.parametrize(
    ("init", "call"),
    [({"stream_usage": False}, {}), ({}, {"stream_usage": False})],
    ids=["constructor", "per-call"],
)
def test_stream_usage_can_be_turned_off(
    fake_router: FakeRouter, init: dict[str, Any], call: dict[str, Any]
) -> None:
    fake_router.queue(text_stream(usage=None))

    chunks = collect(fake_router.model(**init), **call)

    assert "stream_options" not in fake_router.last_body
    assert merge(chunks).usage_metadata is None


def test_repeated_usage_reports_are_counted_once(fake_router: FakeRouter) -> None:
    # Some upstreams send cumulative usage on several chunks.
    fake_router.queue(
        sse_response(
            chunk({"content": "a"}, usage={"prompt_tokens": 5, "completion_tokens": 1}),
            chunk({"content": "b"}, usage={"prompt_tokens": 5, "completion_tokens": 2}),
            chunk({}, finish_reason="stop"),
        )
    )

    merged = merge(collect(fake_router.model()))

    assert merged.usage_metadata == {
        "input_tokens": 5,
        "output_tokens": 2,
        "total_tokens": 7,
    }


def parallel_tool_stream() -> httpx.Response:
    def call_delta(index: int, **fields: Any) -> dict[str, Any]:
        function = {k: v for k, v in fields.items() if k in ("name", "arguments")}
        delta: dict[str, Any] = {"index": index, "function": function}
        if "id" in fields:
            delta.update(id=fields["id"], type="function")
        return {"tool_calls": [delta]}

    return sse_response(
        chunk({"role": "assistant", "content": None}),
        chunk(call_delta(0, id="call_a", name="lookup", arguments="")),
        chunk(call_delta(0, arguments='{"city": ')),
        chunk(call_delta(0, arguments='"Zürich"}')),
        chunk(call_delta(1, id="call_b", name="clock", arguments="{}")),
        chunk({}, finish_reason="tool_calls"),
        chunk(usage=USAGE),
    )


def test_tool_call_chunks_merge_into_complete_calls(fake_router: FakeRouter) -> None:
    fake_router.queue(parallel_tool_stream())

    chunks = collect(fake_router.model())
    merged = merge(chunks)

    first = chunks[0]
    assert first.tool_call_chunks == [
        {
            "name": "lookup",
            "args": "",
            "id": "call_a",
            "index": 0,
            "type": "tool_call_chunk",
        }
    ]
    assert merged.tool_calls == [
        {
            "name": "lookup",
            "args": {"city": "Zürich"},
            "id": "call_a",
            "type": "tool_call",
        },
        {"name": "clock", "args": {}, "id": "call_b", "type": "tool_call"},
    ]
    assert merged.response_metadata["finish_reason"] == "tool_calls"


async def test_tool_call_chunks_merge_async(fake_router: FakeRouter) -> None:
    fake_router.queue(parallel_tool_stream())

    merged = merge(await acollect(fake_router.model()))

    assert [call["id"] for call in merged.tool_calls] == ["call_a", "call_b"]


def test_reasoning_deltas_accumulate(fake_router: FakeRouter) -> None:
    fake_router.queue(
        sse_response(
            chunk({"role": "assistant", "reasoning_content": "6 times "}),
            chunk({"reasoning_content": "7"}),
            chunk({"content": "42"}),
            chunk({}, finish_reason="stop"),
        )
    )

    merged = merge(collect(fake_router.model()))

    assert merged.additional_kwargs == {"reasoning_content": "6 times 7"}
    assert merged.content == "42"


def test_invoke_with_streaming_true_streams_under_the_hood(
    fake_router: FakeRouter,
) -> None:
    fake_router.queue(text_stream())

    message = fake_router.model(streaming=True).invoke("Hi")

    assert fake_router.last_body["stream"] is True
    assert message.content == "Hello"
    assert message.usage_metadata is not None
    assert message.response_metadata["finish_reason"] == "stop"


async def test_ainvoke_with_streaming_true(fake_router: FakeRouter) -> None:
    fake_router.queue(text_stream())

    message = await fake_router.model(streaming=True).ainvoke("Hi")

    assert message.content == "Hello"


MID_STREAM_ERROR = {
    "error": {
        "message": "upstream failed mid-stream",
        "type": "server_error",
        "param": None,
        "code": "upstream_error",
    }
}


def test_mid_stream_error_event_raises(fake_router: FakeRouter) -> None:
    fake_router.queue(
        sse_response(chunk({"content": "Hel"}), MID_STREAM_ERROR, done=False)
    )
    received: list[AIMessageChunk] = []

    with pytest.raises(LLMRouterAPIError, match="upstream failed mid-stream") as info:
        received.extend(fake_router.model().stream("Hi"))

    assert [c.content for c in received] == ["Hel"]
    assert isinstance(info.value, ModelAPIError)
    assert info.value.code == "upstream_error"
    assert info.value.status_code is None
    # Part of the answer already reached the caller: no silent retry.
    assert len(fake_router.requests) == 1


async def test_mid_stream_error_event_raises_async(fake_router: FakeRouter) -> None:
    fake_router.queue(sse_response(chunk({"content": "Hel"}), MID_STREAM_ERROR))

    with pytest.raises(LLMRouterAPIError):
        await acollect(fake_router.model())


def test_mid_stream_error_kind_follows_the_event(fake_router: FakeRouter) -> None:
    event = {"error": {"message": "slow down", "type": "rate_limit_error"}}
    fake_router.queue(sse_response(chunk({"content": "a"}), event))

    with pytest.raises(LLMRouterRateLimitError):
        collect(fake_router.model())


def test_stream_without_done_raises(fake_router: FakeRouter) -> None:
    fake_router.queue(sse_response(chunk({"content": "Hel"}), done=False))

    with pytest.raises(LLMRouterConnectionError, match=r"\[DONE\]"):
        collect(fake_router.model())


async def test_stream_without_done_raises_async(fake_router: FakeRouter) -> None:
    fake_router.queue(sse_response(chunk({"content": "Hel"}), done=False))

    with pytest.raises(LLMRouterConnectionError):
        await acollect(fake_router.model())


def test_dropped_connection_mid_stream_raises(fake_router: FakeRouter) -> None:
    prefix = sse_body(chunk({"content": "Hel"}), done=False)
    fake_router.queue(
        httpx.Response(
            200,
            stream=BrokenStream(prefix),
            headers={"content-type": "text/event-stream"},
        )
    )

    with pytest.raises(LLMRouterConnectionError) as info:
        collect(fake_router.model(max_retries=3))

    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert len(fake_router.requests) == 1


async def test_dropped_connection_mid_stream_raises_async(
    fake_router: FakeRouter,
) -> None:
    prefix = sse_body(chunk({"content": "Hel"}), done=False)
    fake_router.queue(
        httpx.Response(
            200,
            stream=BrokenStream(prefix),
            headers={"content-type": "text/event-stream"},
        )
    )

    with pytest.raises(LLMRouterConnectionError):
        await acollect(fake_router.model())


def test_malformed_event_raises(fake_router: FakeRouter) -> None:
    fake_router.queue(sse_response("data: {not json", ""))

    with pytest.raises(LLMRouterAPIError, match="malformed"):
        collect(fake_router.model())


def test_several_choices_cannot_be_streamed(fake_router: FakeRouter) -> None:
    with pytest.raises(ValueError, match="n > 1"):
        fake_router.model(n=2, streaming=True)
    with pytest.raises(ValueError, match="n > 1"):
        collect(fake_router.model(n=2))
