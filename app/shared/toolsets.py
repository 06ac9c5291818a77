"""The tool registry's invocations in Redis, which every instance records and streams.

    RedisInvocationLog    the history as one capped list, and each invocation published on a channel that
                          every instance listens to for its live streams

While Redis is unreachable, invocations are kept and streamed by the worker's own log until Redis is back.
The toolsets themselves are kept by `app.shared.records.RedisRecordStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from app.shared.link import RedisUnavailable
from app.tools.invocations import LocalInvocationLog, Subscription, decode_invocation, encode_invocation

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from redis.asyncio.client import PubSub

    from app.shared.link import RedisLink
    from app.tools.invocations import Invocation

__all__ = ["RedisInvocationLog"]

log = logging.getLogger(__name__)


class RedisInvocationLog:
    def __init__(self, link: RedisLink, history: int) -> None:
        self.link = link
        self.history = history
        self.local = LocalInvocationLog(history)
        self._list = link.key("tools", "invocations")
        self._channel = link.key("tools", "invocations", "live")
        self._listener: asyncio.Task[None] | None = None
        self._subscribers = 0

    async def record(self, invocation: Invocation) -> None:
        data = encode_invocation(invocation)

        async def record() -> None:
            async with self.link.client.pipeline(transaction=False) as pipe:
                pipe.lpush(self._list, data)
                pipe.ltrim(self._list, 0, self.history - 1)
                pipe.publish(self._channel, data)
                await pipe.execute()

        try:
            await self.link.run(record)
        except RedisUnavailable:
            await self.local.record(invocation)

    async def recent(self, *, tool: str | None = None, limit: int = 100) -> list[Invocation]:
        try:
            found = await self.link.run(lambda: self.link.client.lrange(self._list, 0, self.history - 1))
        except RedisUnavailable:
            return await self.local.recent(tool=tool, limit=limit)
        invocations = [decode_invocation(_bytes(data)) for data in found]
        return [each for each in invocations if tool is None or each.tool == tool][:limit]

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        self._subscribers += 1
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="tool invocations listener")
        try:
            async with self.local.subscribe() as subscription:
                yield subscription
        finally:
            self._subscribers -= 1

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self) -> None:
        """Hand what any instance publishes to this worker's listeners, while it has any."""
        while self._subscribers:
            pubsub: PubSub = self.link.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                while self._subscribers:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self.local.publish(decode_invocation(bytes(message["data"])))
            except (TimeoutError, OSError, ConnectionError) as exc:
                log.debug("the invocation channel failed (%s); listening again shortly", exc)
                await asyncio.sleep(self.link.recheck_interval)
            except Exception as exc:  # redis' own errors: listen again rather than lose the stream
                log.debug("the invocation channel failed (%s); listening again shortly", exc)
                await asyncio.sleep(self.link.recheck_interval)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
