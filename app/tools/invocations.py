"""The record of tool invocations: a bounded history, newest first, and a live feed.

Every invocation, direct or from a model loop, becomes one `Invocation`: its request id, tool, client key,
outcome, duration and sizes; its arguments and output only with `[tools] log_content` on. The log keeps the
last `[tools] history` of them and hands each new one to every subscriber (`GET /v1/tools/invocations/stream`).
`LocalInvocationLog` keeps them in the process; `app.shared.toolsets.RedisInvocationLog` keeps the history
in Redis and publishes each invocation there, so every instance sees every instance's invocations.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["Invocation", "InvocationLog", "LocalInvocationLog", "Outcome", "Subscription"]

Outcome = Literal[
    "success", "tool_error", "invalid_arguments", "rate_limited", "timeout", "unreachable", "invalid_response"
]
_SUBSCRIBER_BACKLOG = 256


class Invocation(msgspec.Struct, kw_only=True):
    """One invocation: every field always there, but its content (`arguments`, `output`), which is kept
    only with `[tools] log_content` on."""

    id: str
    request_id: str
    tool: str
    toolset: str
    outcome: Outcome
    is_error: bool
    duration_ms: int
    arguments_bytes: int
    output_bytes: int = 0
    truncated: bool = False
    attempts: int = 0
    created_at: int
    """Unix seconds."""
    key: str | None = None
    """The client key's name (never the key)."""
    source: str = "api"
    """Who called: `api` (direct invocation), `mcp` (the router's MCP server), `dashboard`, or a model loop
    (`agent`, `responses`)."""
    error: str | None = None
    arguments: Any = msgspec.UNSET
    output: str | msgspec.UnsetType = msgspec.UNSET
    object: Literal["tool.invocation.record"] = "tool.invocation.record"


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Invocation)


def encode_invocation(invocation: Invocation) -> bytes:
    return _encoder.encode(invocation)


def decode_invocation(data: bytes) -> Invocation:
    return _decoder.decode(data)


class Subscription:
    """One listener's queue of new invocations; a listener that falls behind loses the oldest."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Invocation] = asyncio.Queue(_SUBSCRIBER_BACKLOG)

    def put(self, invocation: Invocation) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(invocation)

    async def get(self) -> Invocation:
        return await self.queue.get()


class InvocationLog(Protocol):
    async def record(self, invocation: Invocation) -> None: ...

    async def recent(self, *, tool: str | None = None, limit: int = 100) -> list[Invocation]:
        """The latest invocations (of `tool`, when given), newest first."""
        ...

    def subscribe(self) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Invocations recorded from now on, on any worker that shares this log."""
        ...

    async def close(self) -> None: ...


class LocalInvocationLog:
    def __init__(self, history: int) -> None:
        self._history: collections.deque[Invocation] = collections.deque(maxlen=history)
        self._subscribers: set[Subscription] = set()

    async def record(self, invocation: Invocation) -> None:
        self.keep(invocation)
        self.publish(invocation)

    def keep(self, invocation: Invocation) -> None:
        self._history.appendleft(invocation)

    def publish(self, invocation: Invocation) -> None:
        for subscriber in self._subscribers:
            subscriber.put(invocation)

    async def recent(self, *, tool: str | None = None, limit: int = 100) -> list[Invocation]:
        found: list[Invocation] = []
        for invocation in self._history:
            if tool is None or invocation.tool == tool:
                found.append(invocation)
                if len(found) >= limit:
                    break
        return found

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    async def close(self) -> None:
        return None
