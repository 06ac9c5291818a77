"""OpenAI's stream invariants, whatever an upstream sends: scripted SSE bodies through the whole app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from .support import (
    OPENROUTER_CHAT,
    USER_HI,
    assembled_calls,
    assert_stream_error,
    chunk,
    deltas,
    finish_reasons,
    roles,
    sse,
    stream_of,
    streamed,
    text_of,
    tool_call_deltas,
)
from .wire_examples import (
    DEEPSEEK_TOOL_STREAM,
    OPENAI_PARALLEL_CALLS,
    OPENAI_PARALLEL_TOOLS_STREAM,
    OPENROUTER_REASONING_STREAM,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

MODEL = "openrouter/some/model"
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]


async def run(
    client: Client, upstream: respx.MockRouter, body: bytes, *, include_usage: bool = False, **streaming: Any
) -> httpx.Response:
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(body, **streaming))
    request: dict[str, Any] = {"model": MODEL, "messages": USER_HI, "tools": TOOLS, "stream": True}
    if include_usage:
        request["stream_options"] = {"include_usage": True}
    return await client.post("/v1/chat/completions", json=request)


def call(
    index: int | None = None,
    id_: str | None = None,
    name: str | None = None,
    arguments: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A tool-call delta with only the keys given (None leaves a key out)."""
    out: dict[str, Any] = dict(extra)
    if index is not None:
        out["index"] = index
    if id_ is not None:
        out["id"] = id_
        out.setdefault("type", "function")
    function = {k: v for k, v in (("name", name), ("arguments", arguments)) if v is not None}
    if function:
        out["function"] = function
    return out


def tool_stream(*calls: dict[str, Any], finish_reason: str = "tool_calls") -> bytes:
    return sse(
        chunk({"role": "assistant", "content": None}),
        *(chunk({"tool_calls": [c]}) for c in calls),
        chunk({}, finish_reason),
    )


# ------------------------------------------------------------------------------------------------- indexes


async def test_missing_index_assigned_in_call_order(client: Client, upstream: respx.MockRouter) -> None:
    body = tool_stream(
        call(id_="call_a", name="get_weather", arguments=""),
        call(arguments='{"city":'),
        call(arguments=' "Paris"}'),
        call(id_="call_b", name="get_time", arguments=""),
        call(arguments="{}"),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert all(isinstance(d["index"], int) for d in tool_call_deltas(chunks))
    assert assembled_calls(chunks) == [
        {"id": "call_a", "type": "function", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"id": "call_b", "type": "function", "name": "get_time", "arguments": "{}"},
    ]


async def test_whole_calls_without_index_gemini_style(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    call(id_="call_a", name="get_weather", arguments='{"city":"Paris"}'),
                    call(id_="call_b", name="get_time", arguments='{"tz":"CET"}'),
                ],
            }
        ),
        chunk({}, "tool_calls"),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert assembled_calls(chunks) == [
        {"id": "call_a", "type": "function", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"id": "call_b", "type": "function", "name": "get_time", "arguments": '{"tz":"CET"}'},
    ]


async def test_new_id_on_reused_index_is_a_new_call_ollama_style(client: Client, upstream: respx.MockRouter) -> None:
    body = tool_stream(
        call(0, "call_a", "get_weather", '{"city":'),
        call(0, arguments='"Paris"}'),
        call(0, "call_b", "get_time", '{"tz":'),
        call(0, arguments='"CET"}'),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert assembled_calls(chunks) == [
        {"id": "call_a", "type": "function", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"id": "call_b", "type": "function", "name": "get_time", "arguments": '{"tz":"CET"}'},
    ]
    assert [d["index"] for d in tool_call_deltas(chunks)] == [0, 0, 1, 1]


async def test_id_type_name_only_in_a_calls_first_delta(client: Client, upstream: respx.MockRouter) -> None:
    # Some upstreams repeat id, type and name on every fragment.
    body = tool_stream(
        call(0, "call_a", "get_weather", ""),
        call(0, "call_a", "get_weather", '{"ci'),
        call(0, "call_a", "get_weather", 'ty": "Oslo"}'),
    )

    chunks = stream_of(await run(client, upstream, body))

    tool_deltas = tool_call_deltas(chunks)
    assert [set(d) for d in tool_deltas] == [
        {"index", "id", "type", "function"},
        {"index", "function"},
        {"index", "function"},
    ]
    assert all("name" not in d["function"] for d in tool_deltas[1:])
    assert assembled_calls(chunks) == [
        {"id": "call_a", "type": "function", "name": "get_weather", "arguments": '{"city": "Oslo"}'}
    ]


async def test_repeated_id_without_index_continues_the_call(client: Client, upstream: respx.MockRouter) -> None:
    body = tool_stream(
        call(id_="call_a", name="get_weather", arguments=""),
        call(id_="call_a", arguments='{"city":'),
        call(id_="call_a", arguments=' "Rome"}'),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert assembled_calls(chunks) == [
        {"id": "call_a", "type": "function", "name": "get_weather", "arguments": '{"city": "Rome"}'}
    ]


async def test_name_arriving_after_the_first_delta_is_sent_once(client: Client, upstream: respx.MockRouter) -> None:
    body = tool_stream(
        call(0, "call_a", arguments=""),
        call(0, name="get_weather", arguments='{"city":"Oslo"}'),
        call(0, name="get_weather", arguments=""),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert assembled_calls(chunks) == [
        {"id": "call_a", "type": "function", "name": "get_weather", "arguments": '{"city":"Oslo"}'}
    ]


async def test_whole_call_in_one_delta_stays_whole(client: Client, upstream: respx.MockRouter) -> None:
    body = tool_stream(call(0, "call_a", "get_weather", '{"city":"Lima"}'))

    chunks = stream_of(await run(client, upstream, body))

    assert tool_call_deltas(chunks) == [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Lima"}'},
        }
    ]
    assert finish_reasons(chunks) == ["tool_calls"]


@pytest.mark.parametrize("fragments", [[""], ["", ""], [None], ["", None, ""]])
async def test_call_whose_arguments_are_only_empty_ends_with_empty_object(
    client: Client, upstream: respx.MockRouter, fragments: list[str | None]
) -> None:
    first, *rest = fragments
    body = tool_stream(call(0, "call_a", "get_time", first), *(call(0, arguments=f) for f in rest))

    chunks = stream_of(await run(client, upstream, body))

    assert assembled_calls(chunks) == [{"id": "call_a", "type": "function", "name": "get_time", "arguments": "{}"}]
    # The "{}" comes no later than the chunk that finishes the answer.
    last_call_delta = max(i for i, c in enumerate(chunks) if c["choices"] and "tool_calls" in c["choices"][0]["delta"])
    finish = next(i for i, c in enumerate(chunks) if finish_reasons([c]))
    assert last_call_delta <= finish


async def test_parallel_calls_capture_keeps_indexes(client: Client, upstream: respx.MockRouter) -> None:
    chunks = stream_of(await run(client, upstream, OPENAI_PARALLEL_TOOLS_STREAM, include_usage=True))

    assert [(c["id"], c["name"], c["arguments"]) for c in assembled_calls(chunks)] == OPENAI_PARALLEL_CALLS
    assert finish_reasons(chunks) == ["tool_calls"]
    assert chunks[-1]["usage"]["total_tokens"] == 209
    assert chunks[0]["system_fingerprint"] == "fp_5050236cbd"


async def test_interleaved_parallel_fragments_keep_their_own_indexes(
    client: Client, upstream: respx.MockRouter
) -> None:
    body = tool_stream(
        call(0, "call_a", "get_weather", ""),
        call(1, "call_b", "get_time", ""),
        call(0, arguments='{"city":'),
        call(1, arguments='{"tz":'),
        call(1, arguments='"UTC"}'),
        call(0, arguments='"Kyiv"}'),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert assembled_calls(chunks) == [
        {"id": "call_a", "type": "function", "name": "get_weather", "arguments": '{"city":"Kyiv"}'},
        {"id": "call_b", "type": "function", "name": "get_time", "arguments": '{"tz":"UTC"}'},
    ]


async def test_upstream_indexes_not_starting_at_zero_are_renumbered(client: Client, upstream: respx.MockRouter) -> None:
    body = tool_stream(
        call(3, "call_a", "get_weather", '{"city":"Oslo"}'),
        call(7, "call_b", "get_time", "{}"),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert [d["index"] for d in tool_call_deltas(chunks)] == [0, 1]


# ------------------------------------------------------------------------------------------ finish reasons


async def test_exactly_one_finish_reason(client: Client, upstream: respx.MockRouter) -> None:
    # The finish repeated, and a usage chunk that still carries a choice (a DeepInfra-routed capture did).
    body = sse(
        chunk({"role": "assistant", "content": "Hi"}),
        chunk({}, "stop"),
        chunk({"content": ""}, "stop"),
        chunk({"content": ""}, "stop", usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
    )

    chunks = stream_of(await run(client, upstream, body, include_usage=True))

    assert finish_reasons(chunks) == ["stop"]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}


async def test_stop_with_tool_calls_becomes_tool_calls(client: Client, upstream: respx.MockRouter) -> None:
    body = tool_stream(call(0, "call_a", "get_weather", '{"city":"Oslo"}'), finish_reason="stop")

    chunks = stream_of(await run(client, upstream, body))

    assert finish_reasons(chunks) == ["tool_calls"]


async def test_finish_reason_outside_openais_enum_becomes_stop(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(chunk({"role": "assistant", "content": "Hi"}), chunk({}, "end_turn"))

    chunks = stream_of(await run(client, upstream, body))

    assert finish_reasons(chunks) == ["stop"]


@pytest.mark.parametrize("reason", ["length", "content_filter"])
async def test_openai_finish_reasons_kept(client: Client, upstream: respx.MockRouter, reason: str) -> None:
    body = sse(chunk({"role": "assistant", "content": "Hi"}), chunk({}, reason))

    chunks = stream_of(await run(client, upstream, body))

    assert finish_reasons(chunks) == [reason]


async def test_stream_that_ends_without_finishing_is_an_error(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(chunk({"role": "assistant", "content": "Hi"}), chunk({"content": " there"}), done=False)

    response = await run(client, upstream, body)

    error = assert_stream_error(response.text)
    assert error["type"] == "server_error"


async def test_done_without_a_finish_reason_gets_one(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(chunk({"role": "assistant", "content": "Hi"}), chunk({"content": " there"}))

    chunks = stream_of(await run(client, upstream, body))

    assert text_of(chunks) == "Hi there"
    assert finish_reasons(chunks) == ["stop"]


async def test_done_with_no_answer_at_all_is_an_error(client: Client, upstream: respx.MockRouter) -> None:
    response = await run(client, upstream, b": OPENROUTER PROCESSING\n\ndata: [DONE]\n\n")

    if response.status_code == 200:
        assert_stream_error(response.text)
    else:
        assert response.status_code >= 500


# ------------------------------------------------------------------------------------- roles, ids, content


async def test_role_once_and_same_id_on_every_chunk(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(
        chunk({"role": "assistant", "content": ""}, id="gen-1"),
        chunk({"role": "assistant", "content": "Hel"}, id="gen-2", created=2),
        chunk({"role": "assistant", "content": "lo"}, id="gen-3", model="other"),
        chunk({"role": "assistant"}, "stop", id="gen-4"),
    )

    chunks = stream_of(await run(client, upstream, body, include_usage=True))

    assert roles(chunks) == ["assistant"]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {(c["id"], c["created"], c["model"]) for c in chunks} == {("gen-1", 1727346178, "upstream-model")}
    assert text_of(chunks) == "Hello"


async def test_chunk_without_id_gets_a_chatcmpl_id(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(chunk({"role": "assistant", "content": "Hi"}, id=""), chunk({}, "stop", id=""))

    chunks = stream_of(await run(client, upstream, body))

    assert chunks[0]["id"].startswith("chatcmpl-")


async def test_text_stream_content_and_refusal_kept(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(
        chunk({"role": "assistant", "content": "", "refusal": None}),
        chunk({"content": "I can't"}),
        chunk({"refusal": "I won't help with that."}),
        chunk({}, "stop"),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert text_of(chunks) == "I can't"
    assert text_of(chunks, "refusal") == "I won't help with that."
    assert all(d for d in deltas(chunks)[1:-1]), "empty deltas are not worth a chunk"


async def test_usage_stripped_unless_asked(client: Client, upstream: respx.MockRouter) -> None:
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    body = sse(chunk({"role": "assistant", "content": "Hi"}, usage=usage), chunk({}, "stop", usage=usage))

    chunks = stream_of(await run(client, upstream, body))

    assert all("usage" not in c for c in chunks)


async def test_usage_chunk_is_last_before_done_when_asked(client: Client, upstream: respx.MockRouter) -> None:
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    body = sse(chunk({"role": "assistant", "content": "Hi"}), chunk({}, "stop"), chunk(None, choices=[], usage=usage))

    response = await run(client, upstream, body, include_usage=True)

    chunks = stream_of(response)
    assert chunks[-1] == {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1727346178,
        "model": "upstream-model",
        "choices": [],
        "usage": usage,
    }
    assert response.text.endswith('"total_tokens":6}}\n\ndata: [DONE]\n\n')


# --------------------------------------------------------------------------------------------- transport


def _odd_sizes() -> list[tuple[int, ...]]:
    return [(1,), (2, 3), (7, 1, 13), (5, 11, 2, 17), (64,)]


@pytest.mark.parametrize(
    "body",
    [OPENAI_PARALLEL_TOOLS_STREAM, OPENROUTER_REASONING_STREAM, DEEPSEEK_TOOL_STREAM],
    ids=["openai", "openrouter", "deepseek"],
)
@pytest.mark.parametrize("sizes", _odd_sizes(), ids=str)
async def test_frames_split_across_reads_decode_the_same(
    client: Client, upstream: respx.MockRouter, body: bytes, sizes: tuple[int, ...]
) -> None:
    whole = await run(client, upstream, body, include_usage=True)
    upstream.reset()
    split = await run(client, upstream, body, include_usage=True, sizes=sizes)

    assert stream_of(split) == stream_of(whole)
    assert split.text == whole.text


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("sizes", [(1 << 20,), (1,), (3, 5)], ids=str)
async def test_crlf_and_cr_line_endings(
    client: Client, upstream: respx.MockRouter, newline: bytes, sizes: tuple[int, ...]
) -> None:
    whole = await run(client, upstream, OPENAI_PARALLEL_TOOLS_STREAM, include_usage=True)
    upstream.reset()
    body = OPENAI_PARALLEL_TOOLS_STREAM.replace(b"\n", newline)
    other = await run(client, upstream, body, include_usage=True, sizes=sizes)

    assert other.text == whole.text


async def test_connection_lost_mid_stream_is_an_error_event(client: Client, upstream: respx.MockRouter) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield sse(chunk({"role": "assistant", "content": "Hel"}), done=False)
        raise httpx.ReadError("connection reset by peer")

    upstream.post(OPENROUTER_CHAT).mock(
        side_effect=lambda _: httpx.Response(200, content=broken(), headers={"content-type": "text/event-stream"})
    )

    response = await client.post("/v1/chat/completions", json={"model": MODEL, "messages": USER_HI, "stream": True})

    error = assert_stream_error(response.text)
    assert error["type"] == "server_error"
    assert "openrouter" in error["message"]


async def test_event_named_error_is_an_error_event(client: Client, upstream: respx.MockRouter) -> None:
    body = (
        sse(chunk({"role": "assistant", "content": "Hel"}), done=False)
        + b'event: error\ndata: {"message":"overloaded"}\n\n'
    )

    response = await run(client, upstream, body)

    error = assert_stream_error(response.text)
    assert "overloaded" in error["message"]


async def test_not_a_chunk_mid_stream_is_an_error_event(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(chunk({"role": "assistant", "content": "Hel"}), "<html>Bad gateway</html>")

    response = await run(client, upstream, body)

    error = assert_stream_error(response.text)
    assert error["code"] == "upstream_invalid_response"


# ------------------------------------------------------------------------------------------------ fidelity


async def test_opening_delta_keeps_content_and_refusal_as_sent(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(
        chunk({"role": "assistant", "content": None, "refusal": None}),
        chunk({"role": "assistant", "content": None, "tool_calls": [call(0, "call_a", "get_weather", "{}")]}),
        chunk({"content": ""}, "tool_calls"),
    )

    chunks = stream_of(await run(client, upstream, body))

    assert deltas(chunks)[0] == {"role": "assistant", "content": None, "refusal": None}
    assert all("content" not in delta and "role" not in delta for delta in deltas(chunks)[1:])


async def test_usage_chunk_carries_the_streams_fingerprint_and_tier(client: Client, upstream: respx.MockRouter) -> None:
    top = {"system_fingerprint": "fp_abc", "service_tier": "default"}
    body = sse(
        chunk({"role": "assistant", "content": "Hi"}, **top),
        chunk({}, "stop", **top),
        chunk(None, choices=[], usage={"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}, **top),
    )

    chunks = stream_of(await run(client, upstream, body, include_usage=True))

    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] == 4
    assert usage_chunk["system_fingerprint"] == "fp_abc"
    assert usage_chunk["service_tier"] == "default"
