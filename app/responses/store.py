"""Stored responses: what `previous_response_id` continues and `GET /v1/responses/{id}` returns.

A stored response keeps the whole conversation that led to it (every input item, its own and those of the
responses before it) beside the response itself, so continuing it is one lookup, and a conversation
outlives the expiry of its earlier turns. `instructions` are not part of it: as at OpenAI, they apply to
one request only.

`ResponseStore` is the interface; `InMemoryResponseStore`, the default, keeps entries in the process,
bounded in count and bytes, each for a fixed time after it was written. Entries are kept encoded (as a
shared store such as Redis would keep them, with `encode_stored`/`decode_stored`), which also means no
caller can change a stored response by changing an object it holds. Each server worker has its own
in-memory store: with several workers, continue a conversation on a shared store, or send it whole.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

import msgspec

from app.responses.items import InputItem, as_input
from app.responses.wire import ResponseObject

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "InMemoryResponseStore",
    "ResponseStore",
    "StoredResponse",
    "decode_stored",
    "encode_stored",
]

log = logging.getLogger(__name__)

_encoder = msgspec.msgpack.Encoder()


class StoredResponse(msgspec.Struct, kw_only=True):
    response: ResponseObject
    conversation: list[InputItem]
    """The input items of every turn up to this response, oldest first."""
    owner: str | None = None
    """The client key that created it; only that client may read or continue it."""

    def history(self) -> list[InputItem]:
        """The conversation a request continuing this response extends: its input, then its output."""
        return [*self.conversation, *(as_input(item) for item in self.response.output)]


_decoder = msgspec.msgpack.Decoder(StoredResponse)


def encode_stored(stored: StoredResponse) -> bytes:
    return _encoder.encode(stored)


def decode_stored(data: bytes) -> StoredResponse:
    return _decoder.decode(data)


class ResponseStore(Protocol):
    """Where responses are kept. Implementations must be safe to use from concurrent requests."""

    async def get(self, response_id: str) -> StoredResponse | None:
        """The stored response with this id, or None when there is none (never stored, expired, deleted)."""
        ...

    async def put(self, stored: StoredResponse) -> None:
        """Keep a response under its id (`stored.response.id`)."""
        ...

    async def delete(self, response_id: str) -> bool:
        """Forget a response; False when there was none."""
        ...


class InMemoryResponseStore:
    """A bounded in-process store: the oldest entries go first when it is full, and every entry expires
    `ttl` seconds after it was written (reading it does not extend that)."""

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 128 * 1024 * 1024,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        # Insertion order is expiry order (one ttl for all), so the oldest entry is always first.
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get(self, response_id: str) -> StoredResponse | None:
        self._expire()
        entry = self._entries.get(response_id)
        return decode_stored(entry[1]) if entry else None

    async def put(self, stored: StoredResponse) -> None:
        data = encode_stored(stored)
        if len(data) > self.max_bytes:
            log.warning(
                "response %s (%d bytes) is larger than the whole store; not kept",
                stored.response.id,
                len(data),
            )
            return
        self._remove(stored.response.id)
        self._entries[stored.response.id] = (self._clock() + self.ttl, data)
        self._bytes += len(data)
        self._expire()
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._remove(next(iter(self._entries)))

    async def delete(self, response_id: str) -> bool:
        self._expire()
        return self._remove(response_id)

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            oldest, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now:
                break
            self._remove(oldest)

    def _remove(self, response_id: str) -> bool:
        entry = self._entries.pop(response_id, None)
        if entry is None:
            return False
        self._bytes -= len(entry[1])
        return True
