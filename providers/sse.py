"""A server-sent events decoder over raw bytes, as upstream chat streams use them.

It works on bytes end to end so each event's data reaches `msgspec` without a round trip through `str`,
which matters on a path that runs for every chunk of every stream. It follows the WHATWG parsing rules the
providers rely on: comment lines (`: keep-alive`, `: OPENROUTER PROCESSING`) are skipped, `data` lines of
one event are joined with newlines, an event ends at a blank line, and CR, LF and CRLF all end a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["ServerSentEvent", "iter_events"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: bytes
    event: str = "message"


@dataclass(slots=True)
class _EventBuilder:
    event: str = ""
    data: list[bytes] = field(default_factory=list)

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
            self.data.append(value)
        elif name == b"event":
            self.event = value.decode("utf-8", "replace")
        return None

    def dispatch(self) -> ServerSentEvent | None:
        event = ServerSentEvent(b"\n".join(self.data), self.event or "message") if self.data else None
        self.event, self.data = "", []
        return event


async def iter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Yield the events of an SSE byte stream, however its bytes are split into chunks."""
    builder = _EventBuilder()
    pending = b""
    async for chunk in chunks:
        lines = (pending + chunk).splitlines(keepends=True)
        # The last piece may be a line the transport cut in two (or a CR whose LF is still to come).
        pending = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        for line in lines:
            if (event := builder.feed(line.rstrip(b"\r\n"))) is not None:
                yield event
    # Some servers close the stream without the blank line that ends the last event.
    if pending and (event := builder.feed(pending.rstrip(b"\r\n"))) is not None:
        yield event
    if (event := builder.dispatch()) is not None:
        yield event
