"""`RedisResponseStore`: stored Responses-API conversations that every worker and instance can continue.

A response is one Redis string (the same encoding the in-memory store keeps) with the store's time to live.
While Redis is unreachable, responses are kept in, and looked up from, the worker's own in-memory store, so
a conversation started then can still be continued on that worker; once Redis is back, new ones go there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.responses.store import decode_stored, encode_stored
from app.shared.link import RedisUnavailable

if TYPE_CHECKING:
    from app.responses.store import InMemoryResponseStore, StoredResponse
    from app.shared.link import RedisLink

__all__ = ["RedisResponseStore"]


class RedisResponseStore:
    def __init__(self, link: RedisLink, local: InMemoryResponseStore, ttl: float) -> None:
        self.link = link
        self.local = local
        self.ttl_ms = max(1, round(ttl * 1000))

    async def get(self, response_id: str) -> StoredResponse | None:
        try:
            data: bytes | str | None = await self.link.run(lambda: self.link.client.get(self._key(response_id)))
        except RedisUnavailable:
            data = None
        if data is None:
            return await self.local.get(response_id)
        # The client returns bytes (no `decode_responses`); its type allows for str.
        return decode_stored(data.encode() if isinstance(data, str) else data)

    async def put(self, stored: StoredResponse) -> None:
        key, data = self._key(stored.response.id), encode_stored(stored)
        try:
            await self.link.run(lambda: self.link.client.set(key, data, px=self.ttl_ms))
        except RedisUnavailable:
            await self.local.put(stored)

    async def delete(self, response_id: str) -> bool:
        try:
            deleted = bool(await self.link.run(lambda: self.link.client.delete(self._key(response_id))))
        except RedisUnavailable:
            deleted = False
        return await self.local.delete(response_id) or deleted

    def _key(self, response_id: str) -> str:
        return self.link.key("response", response_id)
