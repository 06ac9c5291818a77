"""`RedisRecordStore`: what the admin API registers (toolsets, agents), in Redis, for every instance.

A collection is one hash of records (`<prefix>:<collection>`) and a generation counter
(`<prefix>:<collection>:generation`) that each write moves; every worker polls the counter
(`app.records.StoreFollower`), so a definition registered on one instance is served by all of them within a
second. While Redis is unreachable, writes fail (503 `store_unavailable`, so the admin knows) and each
worker keeps serving what it has loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.records import checked_collection
from app.shared.link import RedisUnavailable
from providers.errors import RouterError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from app.shared.link import RedisLink

__all__ = ["RedisRecordStore"]


class RedisRecordStore:
    def __init__(self, link: RedisLink, collection: str) -> None:
        self.link = link
        self.collection = checked_collection(collection)
        self._hash = link.key(collection)
        self._generation = link.key(collection, "generation")
        self._last = 0

    async def load(self) -> dict[str, bytes]:
        try:
            found = await self.link.run(lambda: self.link.client.hgetall(self._hash))
        except RedisUnavailable:
            raise self._down() from None
        return {_text(name): _bytes(data) for name, data in found.items()}

    async def create(self, name: str, data: bytes) -> bool:
        return await self._write(lambda: self.link.client.hsetnx(self._hash, name, data))

    async def replace(self, name: str, data: bytes) -> bool:
        async def replace() -> int:
            if not await self.link.client.hexists(self._hash, name):
                return 0
            await self.link.client.hset(self._hash, name, data)
            return 1

        return await self._write(replace)

    async def delete(self, name: str) -> bool:
        return await self._write(lambda: self.link.client.hdel(self._hash, name))

    async def generation(self) -> int:
        try:
            value = await self.link.run(lambda: self.link.client.get(self._generation))
        except RedisUnavailable:
            return self._last  # nothing new can be known: keep what is loaded
        self._last = int(value or 0)
        return self._last

    async def close(self) -> None:
        return None

    async def _write(self, operation: Callable[[], Awaitable[object]]) -> bool:
        try:
            changed = bool(await self.link.run(operation))
            if changed:
                await self.link.run(lambda: self.link.client.incr(self._generation))
        except RedisUnavailable:
            raise self._down() from None
        return changed

    def _down(self) -> RouterError:
        return RouterError(
            f"The store of registered {self.collection} (Redis) is unreachable; try again shortly.",
            status=503,
            code="store_unavailable",
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
