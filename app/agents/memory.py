"""The server's side of a turn that also called the client's tools, kept until the client comes back.

When one round of an agent calls both registry tools and the client's own tools, the router runs its own
and hands the client's back as ordinary `tool_calls`. The client then sends the conversation again with its
tool results; but it never saw the router's calls, and the model must see the whole turn as it happened.
So the turn's server side (the assistant message with every call, and the router's tool results) is kept
under each of the client's call ids, and spliced back in when a request brings one of those ids again.

`LocalTurnMemory` keeps turns in the worker (bounded, expiring); `app.shared.turns.RedisTurnMemory` keeps
them in Redis, so the client's next request may land on any worker or instance.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["LocalTurnMemory", "TurnMemory"]


class TurnMemory(Protocol):
    async def remember(self, call_ids: Sequence[str], turn: bytes) -> None:
        """Keep `turn` (the encoded messages to splice back) under each of the client's call ids."""

    async def recall(self, call_id: str) -> bytes | None:
        """The turn kept under `call_id`, or None (never kept, or expired)."""


class LocalTurnMemory:
    """Turns in this worker: at most `max_entries` ids, each for `ttl` seconds."""

    def __init__(
        self, *, max_entries: int = 10_000, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._turns: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def remember(self, call_ids: Sequence[str], turn: bytes) -> None:
        expires = self._clock() + self.ttl
        for call_id in call_ids:
            self._turns.pop(call_id, None)
            self._turns[call_id] = (expires, turn)
        while len(self._turns) > self.max_entries:
            self._turns.popitem(last=False)

    async def recall(self, call_id: str) -> bytes | None:
        now = self._clock()
        while self._turns:
            oldest, (expires, _) = next(iter(self._turns.items()))
            if expires > now:
                break
            del self._turns[oldest]
        entry = self._turns.get(call_id)
        return entry[1] if entry is not None else None
