"""The connection to Redis, and what happens when it goes away.

Every shared operation goes through `RedisLink.run`. While Redis answers, operations run there. The first
failure (refused, reset, or slower than `[redis] timeout`) marks the link down: from then on `run` raises
`RedisUnavailable` at once, without touching the network, and callers use their local state. One
background task pings Redis every `recheck_interval` seconds until it answers, then marks the link up
again, so a Redis outage costs one timeout, not one per request, and nothing hammers a recovering server.
Each change is logged once and shown in the `llm_router_redis_up` gauge.

Recovery is one switch. Before the first ping of a recovery every pooled connection is dropped: a
connection opened before the outage may be dead (Redis restarted) without knowing it, and otherwise each
would fail one request after the link is up, marking it down again. An operation that started before
the outage and fails after the recovery does not mark the recovered link down either.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import TYPE_CHECKING, TypeVar

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from redis.commands.core import AsyncScript

__all__ = ["RedisLink", "RedisUnavailable"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis cannot be used now: use local state."""


class RedisLink:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        timeout: float,
        recheck_interval: float,
        on_change: Callable[[bool], None] = lambda up: None,
    ) -> None:
        # No retries inside the client: a failed operation falls back to local state at once, and the
        # re-check loop decides when Redis is worth trying again.
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self.prefix = prefix
        self.recheck_interval = recheck_interval
        self.up = False
        self._on_change = on_change
        self._recheck: asyncio.Task[None] | None = None
        # Counts the times the link came up: an operation's failure only takes down the link it ran on.
        self._generation = 0
        on_change(False)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def script(self, *names: str) -> AsyncScript:
        """A Lua script made of `app/shared/lua/<name>.lua` files, in order (shared helpers first)."""
        folder = resources.files(__package__ or "app.shared") / "lua"
        source = "".join((folder / f"{name}.lua").read_text(encoding="utf-8") for name in names)
        return self.client.register_script(source)

    async def start(self) -> None:
        """Connect (or start trying to) when the server starts."""
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            log.warning("Redis is unreachable (%s): serving on local state until it answers", _describe(exc))
            self._watch()
        else:
            self._mark(up=True)
            log.info("shared state in Redis")

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        if not self.up:
            raise RedisUnavailable
        generation = self._generation
        try:
            return await operation()
        except (RedisError, OSError) as exc:
            if self.up and generation == self._generation:
                self._mark(up=False)
                log.warning("Redis became unreachable (%s): serving on local state until it is back", _describe(exc))
                self._watch()
            raise RedisUnavailable from exc

    async def close(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        await self.client.aclose()

    def _watch(self) -> None:
        if self._recheck is None or self._recheck.done():
            self._recheck = asyncio.create_task(self._recheck_until_up(), name="redis-recheck")

    async def _recheck_until_up(self) -> None:
        while not self.up:
            await asyncio.sleep(self.recheck_interval)
            # Sockets from before the outage go; the ping and everything after it use fresh ones.
            await self.client.connection_pool.disconnect()
            try:
                await self.client.ping()
            except (RedisError, OSError):
                continue
            self._mark(up=True)
            log.warning("Redis is reachable again: shared state resumed")

    def _mark(self, *, up: bool) -> None:
        if up:
            self._generation += 1
        self.up = up
        self._on_change(up)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
