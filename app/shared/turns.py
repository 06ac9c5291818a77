"""`RedisTurnMemory`: agent turns waiting for the client's tool results, visible to every instance.

Each of the client's call ids is one Redis string holding the encoded turn, with the memory's time to live.
While Redis is unreachable, turns are kept in, and recalled from, the worker's own memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.shared.link import RedisUnavailable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.agents.memory import LocalTurnMemory
    from app.shared.link import RedisLink

__all__ = ["RedisTurnMemory"]


class RedisTurnMemory:
    def __init__(self, link: RedisLink, local: LocalTurnMemory) -> None:
        self.link = link
        self.local = local
        self.ttl_ms = max(1, round(local.ttl * 1000))

    async def remember(self, call_ids: Sequence[str], turn: bytes) -> None:
        async def write() -> None:
            async with self.link.client.pipeline(transaction=False) as pipe:
                for call_id in call_ids:
                    pipe.set(self._key(call_id), turn, px=self.ttl_ms)
                await pipe.execute()

        try:
            await self.link.run(write)
        except RedisUnavailable:
            await self.local.remember(call_ids, turn)

    async def recall(self, call_id: str) -> bytes | None:
        try:
            found: bytes | str | None = await self.link.run(lambda: self.link.client.get(self._key(call_id)))
        except RedisUnavailable:
            found = None
        if found is None:
            return await self.local.recall(call_id)
        return found.encode() if isinstance(found, str) else found

    def _key(self, call_id: str) -> str:
        return self.link.key("agent-turn", call_id)
