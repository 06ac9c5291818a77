"""Server-sent events decoding for the router's streamed responses.

Owns turning the lines of a ``text/event-stream`` body into the ``data``
payload of each event. The router only sends ``data:`` lines, ``:`` comment
lines (keep-alives) and blank lines between events, but other fields are
tolerated so that a proxy adding ``event:``/``id:``/``retry:`` lines cannot
break a stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

__all__ = ["SSEDecoder", "aiter_sse_data", "iter_sse_data"]


class SSEDecoder:
    """Incremental decoder: feed it lines, get back each complete event's data."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """Consume one line (without its terminator).

        Returns:
            The event's data when ``line`` is the blank line ending an event that
            carried data, else ``None``.
        """
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        # The format allows exactly one optional space after the colon.
        value = value.removeprefix(" ")
        if field == "data":
            self._data.append(value)
        return None

    def flush(self) -> str | None:
        """Return the data of the event in progress, if any, and reset."""
        if not self._data:
            return None
        # Multiple data lines in one event are joined with newlines, per the spec.
        data = "\n".join(self._data)
        self._data.clear()
        return data


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """Yield the data of each event in ``lines``."""
    decoder = SSEDecoder()
    for line in lines:
        if (data := decoder.feed(line)) is not None:
            yield data
    # Be lenient with a body whose last event is not followed by a blank line:
    # the caller decides whether what it got amounts to a complete stream.
    if (data := decoder.flush()) is not None:
        yield data


async def aiter_sse_data(lines: AsyncIterable[str]) -> AsyncIterator[str]:
    """Asynchronous twin of `iter_sse_data`."""
    decoder = SSEDecoder()
    async for line in lines:
        if (data := decoder.feed(line)) is not None:
            yield data
    if (data := decoder.flush()) is not None:
        yield data
