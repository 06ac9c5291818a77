"""A server-sent events decoder over raw bytes, as upstream chat streams use them.

It works on bytes end to end so each event's data reaches `msgspec` without a round trip through `str`,
which matters on a path that runs for every chunk of every stream. It follows the WHATWG parsing rules the
providers rely on: comment lines (`: keep-alive`, `: OPENROUTER PROCESSING`) are skipped, `data` lines of
one event are joined with newlines, an event ends at a blank line, and CR, LF and CRLF all end a line.

It runs in time linear in the bytes it is fed, however they are split, and holds at most `max_event_bytes`
of one event: an upstream that never ends a line or an event gets `EventTooLarge`, not the worker's memory.
A piece that holds whole events with LF line ends, as nearly every upstream sends them, is split at its blank
lines and each one-line `data: ` event taken whole, without going through the line builder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable

__all__ = ["EventTooLarge", "ServerSentEvent", "iter_events"]


class EventTooLarge(Exception):
    """An event, or one of its lines, grew past the decoder's limit before it ended."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a server-sent event grew past {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: bytes
    event: str = "message"


@dataclass(slots=True)
class _EventBuilder:
    limit: int  # bytes of data one event may hold
    event: str = ""
    data: list[bytes] = field(default_factory=list)
    size: int = 0

    def feed(self, line: bytes) -> ServerSentEvent | None:
        """Take one line (without its terminator); return the event it completes, if any."""
        if not line:
            return self.dispatch()
        if line[0] == 0x3A:  # ":" starts a comment
            return None
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self.size += len(value)
            if self.size > self.limit:
                raise self.overflow()
            self.data.append(value)
        elif name == b"event":
            self.event = value.decode("utf-8", "replace")
        return None

    def dispatch(self) -> ServerSentEvent | None:
        event = ServerSentEvent(b"\n".join(self.data), self.event or "message") if self.data else None
        self.event, self.data, self.size = "", [], 0
        return event

    def overflow(self) -> EventTooLarge:
        """The error for an event past the limit, raised once the event is let go of: the error's traceback
        keeps the decoder's frames, and what they hold, perhaps until the next garbage collection."""
        self.dispatch()
        return EventTooLarge(self.limit)


async def iter_events(
    chunks: AsyncIterable[bytes], max_event_bytes: int = sys.maxsize
) -> AsyncGenerator[ServerSentEvent, None]:
    """Yield the events of an SSE byte stream, however its bytes are split into chunks.

    Raises `EventTooLarge` once the data of one event, with the part of a line still to end, would hold
    more than `max_event_bytes`.
    """
    builder = _EventBuilder(max_event_bytes)
    # The start of a line whose end has not arrived yet. Growing it in place, rather than joining it anew
    # with every chunk, keeps a long line linear; and a long one is mapped on its own, so its memory goes
    # back to the system when it is freed instead of fragmenting the heap.
    partial = bytearray()
    after_cr = False  # the last line ended with CR: an LF opening the next chunk is the rest of a CRLF
    async for chunk in chunks:
        if after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
            after_cr = False
        if not chunk:
            continue
        if not (partial or builder.data or builder.event) and chunk[-2:] == b"\n\n" and b"\r" not in chunk:
            # The usual piece: whole events with LF line ends, and nothing pending from the last piece. Each
            # one-line `data: ` event is taken as it is; anything else goes through the builder line by line.
            after_cr = False
            for block in chunk.split(b"\n\n"):
                if block[:6] == b"data: " and b"\n" not in block:
                    if len(block) - 6 > max_event_bytes:
                        raise EventTooLarge(max_event_bytes)
                    yield ServerSentEvent(block[6:])
                    continue
                for line in block.split(b"\n"):
                    if (event := builder.feed(line)) is not None:
                        yield event
                if (event := builder.dispatch()) is not None:
                    yield event
            continue
        lines = chunk.splitlines(keepends=True)
        last = lines[-1]
        after_cr = last[-1:] == b"\r"
        rest = b"" if after_cr or last[-1:] == b"\n" else lines.pop()
        for line in lines:
            if partial:
                partial += line
                line = bytes(partial)
                partial.clear()
            if (event := builder.feed(line.rstrip(b"\r\n"))) is not None:
                yield event
        if rest:
            partial += rest
            if len(partial) + builder.size > max_event_bytes:
                partial.clear()
                raise builder.overflow()
    # Some servers close the stream without the blank line that ends the last event.
    if partial and (event := builder.feed(bytes(partial))) is not None:
        yield event
    if (event := builder.dispatch()) is not None:
        yield event
