"""The upstream SSE decoder (`providers.sse.iter_events`), fed byte pieces as a transport would deliver them."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import pytest

from providers.sse import EventTooLarge, ServerSentEvent, iter_events

from .wire_examples import DEEPSEEK_TOOL_STREAM, OPENROUTER_NOARGS_TOOL_STREAM

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

NEWLINES = pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])


async def _feed(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def decode(*pieces: bytes, limit: int = sys.maxsize) -> list[ServerSentEvent]:
    return [event async for event in iter_events(_feed(pieces), max_event_bytes=limit)]


async def data_of(*pieces: bytes) -> list[bytes]:
    return [event.data for event in await decode(*pieces)]


async def test_data_frames() -> None:
    assert await data_of(b'data: {"a":1}\n\ndata: [DONE]\n\n') == [b'{"a":1}', b"[DONE]"]


async def test_comments_and_blank_lines_are_skipped() -> None:
    body = b": OPENROUTER PROCESSING\n\n: keep-alive\n\n\n\ndata: x\n: in the middle\ndata: y\n\n:\n\n"

    assert await data_of(body) == [b"x\ny"]


async def test_multi_line_data_joined_with_newlines() -> None:
    assert await data_of(b"data: one\ndata: two\ndata:\ndata: three\n\n") == [b"one\ntwo\n\nthree"]


async def test_only_one_space_after_the_colon_is_removed() -> None:
    assert await data_of(b"data:x\n\ndata:  y\n\ndata: \n\n") == [b"x", b" y", b""]


async def test_event_name_and_unknown_fields() -> None:
    events = await decode(b"event: error\nid: 7\nretry: 100\ndata: boom\n\ndata: next\n\n")

    assert events == [ServerSentEvent(b"boom", "error"), ServerSentEvent(b"next", "message")]


async def test_event_without_data_is_not_dispatched() -> None:
    assert await decode(b"event: ping\n\nid: 3\n\ndata: x\n\n") == [ServerSentEvent(b"x")]


async def test_non_ascii_data_kept_as_bytes() -> None:
    assert await data_of('data: {"c":"余额"}\n\n'.encode()) == ['{"c":"余额"}'.encode()]


@NEWLINES
async def test_line_endings(newline: bytes) -> None:
    body = b": c\n\ndata: a\ndata: b\n\nevent: error\ndata: c\n\n".replace(b"\n", newline)

    assert await decode(body) == [ServerSentEvent(b"a\nb"), ServerSentEvent(b"c", "error")]


@NEWLINES
@pytest.mark.parametrize(
    "body",
    [
        b": c\n\ndata: a\ndata: b\n\nevent: error\ndata: c\n\n",
        OPENROUTER_NOARGS_TOOL_STREAM,
        DEEPSEEK_TOOL_STREAM,
    ],
    ids=["small", "openrouter", "deepseek"],
)
async def test_split_at_every_byte_position(newline: bytes, body: bytes) -> None:
    body = body.replace(b"\n", newline)
    expected = await decode(body)
    assert expected

    for position in range(1, len(body)):
        assert await decode(body[:position], body[position:]) == expected, position


@NEWLINES
async def test_one_byte_at_a_time(newline: bytes) -> None:
    body = DEEPSEEK_TOOL_STREAM.replace(b"\n", newline)

    events = await decode(*(body[i : i + 1] for i in range(len(body))))

    assert events == await decode(body)
    assert len(events) == 8
    assert events[-1].data == b"[DONE]"


async def test_empty_pieces_are_harmless() -> None:
    assert await data_of(b"", b"data: a", b"", b"\n", b"", b"\n", b"") == [b"a"]


async def test_crlf_split_between_cr_and_lf_is_one_line_break() -> None:
    # A CR at the end of a piece may be the first half of CRLF: it must not also end an (empty) line.
    assert await data_of(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [b"a\nb"]


@NEWLINES
async def test_missing_final_blank_line(newline: bytes) -> None:
    assert await data_of(b"data: a\n\ndata: b\n".replace(b"\n", newline)) == [b"a", b"b"]


async def test_missing_final_line_break() -> None:
    assert await data_of(b"data: a\n\ndata: b") == [b"a", b"b"]
    assert await data_of(b"data: a\ndata: b") == [b"a\nb"]


async def test_trailing_comment_without_line_break() -> None:
    assert await data_of(b"data: a\n\n: keep-alive") == [b"a"]


async def test_empty_stream() -> None:
    assert await decode() == []
    assert await decode(b"") == []
    assert await decode(b"\n\n\n") == []


# -------------------------------------------------------------------------------------------------- limits


async def test_a_line_that_never_ends_takes_linear_time() -> None:
    # 20 MB without a line break, in the 16 KiB pieces aiohttp reads: re-joining the held part with every
    # piece took 8-18 s of CPU; each byte must be copied a bounded number of times.
    body = b"data: " + b"x" * 20_000_000
    started = time.process_time()

    (event,) = await decode(*(body[i : i + 16384] for i in range(0, len(body), 16384)))

    assert len(event.data) == 20_000_000
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param([b"data: " + b"x" * 100], id="one-line"),
        pytest.param([b"data: " + b"x" * 50] + [b"x" * 10] * 10, id="a-line-in-pieces"),
        pytest.param([b"data: " + b"x" * 60 + b"\n"] * 2, id="an-event-of-several-lines"),
        pytest.param([b": " + b"x" * 60, b"x" * 60, b"\n\ndata: a\n\n"], id="a-long-comment"),
    ],
)
async def test_an_event_or_a_line_past_the_limit_fails(pieces: list[bytes]) -> None:
    events = iter_events(_feed(pieces), max_event_bytes=100)

    with pytest.raises(EventTooLarge) as raised:
        await anext(events)

    assert raised.value.limit == 100


async def test_events_up_to_the_limit_pass_and_each_event_has_its_own_budget() -> None:
    exact = b"data: " + b"x" * 94
    body = (exact + b"\n\n") * 3 + b": " + b"k" * 98 + b"\n"

    events = await decode(body[:50], body[50:], limit=100)

    assert [len(event.data) for event in events] == [94, 94, 94]


async def test_the_limit_holds_while_a_line_arrives_byte_by_byte() -> None:
    events = iter_events(_feed([b"data: "] + [b"x"] * 5000), max_event_bytes=1000)

    with pytest.raises(EventTooLarge):
        await anext(events)


# --------------------------------------------------------------------------- whole pieces, the usual case

WHOLE_PIECES = [
    b'data: {"a":1}\n\ndata: [DONE]\n\n',
    b": OPENROUTER PROCESSING\n\n: keep-alive\n\n\n\ndata: x\n: in the middle\ndata: y\n\n:\n\n",
    b"data: one\ndata: two\ndata:\ndata: three\n\n",
    b"data:x\n\ndata:  y\n\ndata: \n\ndata:\n\n",
    b"event: error\nid: 7\nretry: 100\ndata: boom\n\ndata: next\n\nevent: ping\n\n",
    b"data: a\n\n\ndata: b\n\n\n\n\ndata: c\n\n",
    b"datum: not data\n\ndata : not data either\n\ndata: ok\n\n",
    OPENROUTER_NOARGS_TOOL_STREAM,
    DEEPSEEK_TOOL_STREAM,
]


@pytest.mark.parametrize("body", WHOLE_PIECES)
async def test_a_piece_of_whole_events_decodes_as_its_bytes_one_at_a_time_do(body: bytes) -> None:
    assert body.endswith(b"\n\n")
    assert await decode(body) == await decode(*(body[i : i + 1] for i in range(len(body))))


async def test_a_piece_of_whole_events_after_a_pending_one_continues_it() -> None:
    assert await decode(b"event: error\ndata: a\n", b"data: b\n\ndata: c\n\n") == [
        ServerSentEvent(b"a\nb", "error"),
        ServerSentEvent(b"c"),
    ]
    assert await decode(b"data: a\r", b"\ndata: b\n\n") == [ServerSentEvent(b"a\nb")]


async def test_in_a_piece_of_whole_events_each_event_has_the_limit() -> None:
    exact = b"data: " + b"x" * 100 + b"\n\n"
    assert [len(event.data) for event in await decode(exact * 2, limit=100)] == [100, 100]

    with pytest.raises(EventTooLarge):
        await decode(exact + b"data: " + b"x" * 101 + b"\n\n", limit=100)
    with pytest.raises(EventTooLarge):
        await decode(b"data: " + b"x" * 60 + b"\ndata: " + b"x" * 60 + b"\n\n", limit=100)
