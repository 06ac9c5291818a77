"""`RedisRateLimiter`: per-key request and token buckets shared by every worker and instance, in Redis.

The buckets and their arithmetic are those of `app.access.limits` (see its docstring), computed by one Lua
script per admission so that concurrent requests on different instances cannot both take the last unit. A
bucket's key expires once the bucket would be full again, which is the same as not existing.

While Redis is unreachable, admission falls back to this process's own buckets: each worker then enforces
the limits on its own, more generous in total, until Redis is back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.access.limits import Admission, quota
from app.shared.link import RedisUnavailable

if TYPE_CHECKING:
    from app.access.keys import ClientKey
    from app.access.limits import Dimension, LocalRateLimiter
    from app.shared.link import RedisLink

__all__ = ["RedisRateLimiter"]


class RedisRateLimiter:
    def __init__(self, link: RedisLink, local: LocalRateLimiter) -> None:
        self.link = link
        self.local = local
        self._admit = link.script("common", "bucket", "admit")
        self._settle = link.script("common", "bucket", "settle")

    async def admit(self, key: ClientKey, tokens: int | None) -> Admission:
        rpm, tpm = key.requests_per_minute, key.tokens_per_minute
        keys = self._keys(key)
        args = [rpm or 0, tpm or 0, -1 if tokens is None else tokens]
        try:
            exhausted, wait_ms, requests, budget = await self.link.run(lambda: self._admit(keys=keys, args=args))
        except RedisUnavailable:
            return await self.local.admit(key, tokens)
        refused: Dimension | None = None
        if exhausted == b"requests":
            refused = "requests"
        elif exhausted == b"tokens":
            refused = "tokens"
        return Admission(
            admitted=refused is None,
            requests=quota(rpm, float(requests)) if rpm else None,
            tokens=quota(tpm, float(budget)) if tpm else None,
            exhausted=refused,
            retry_after=float(wait_ms) / 1000,
        )

    async def settle(self, key: ClientKey, reserved: int, used: int) -> None:
        tpm = key.tokens_per_minute
        if tpm is None or reserved == used:
            return
        keys = self._keys(key)[1:]
        try:
            await self.link.run(lambda: self._settle(keys=keys, args=[tpm, reserved - used]))
        except RedisUnavailable:
            await self.local.settle(key, reserved, used)

    def _keys(self, key: ClientKey) -> list[str]:
        return [self.link.key("limit", key.name, "requests"), self.link.key("limit", key.name, "tokens")]
