"""The SSE decoder: data lines, comments, event boundaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_llm_router._sse import SSEDecoder, aiter_sse_data, iter_sse_data

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def test_events_are_split_on_blank_lines() -> None:
    lines = ['data: {"a": 1}', "", 'data: {"b": 2}', "", "data: [DONE]", ""]

    assert list(iter_sse_data(lines)) == ['{"a": 1}', '{"b": 2}', "[DONE]"]


def test_comments_and_other_fields_are_ignored() -> None:
    lines = [": keep-alive", "", "event: message", "id: 7", "retry: 10", "data: x", ""]

    assert list(iter_sse_data(lines)) == ["x"]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert list(iter_sse_data(["data: one", "data: two", ""])) == ["one\ntwo"]


def test_only_one_leading_space_is_stripped() -> None:
    assert list(iter_sse_data(["data:  spaced", "data:tight", ""])) == [
        " spaced\ntight"
    ]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    decoder = SSEDecoder()

    assert [decoder.feed(line) for line in ["", "", ": ping", ""]] == [None] * 4


def test_an_unterminated_last_event_is_still_delivered() -> None:
    assert list(iter_sse_data(["data: [DONE]"])) == ["[DONE]"]


async def test_async_decoding() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ["data: a", "", ": ping", "data: b", ""]:
            yield line

    assert [data async for data in aiter_sse_data(lines())] == ["a", "b"]
