"""Per-key rate limits: requests per minute and tokens per minute, as token buckets.

Each limited key has a bucket per dimension that holds up to its per-minute limit, starts full and refills
continuously at the limit per minute, so a client can burst up to its limit and then goes at the steady rate.

- A request takes one unit of the request bucket. A request that uses tokens also needs its estimate
  (prompt bytes / 4 plus the completion budget it asked for) in the token bucket, or a full bucket when the
  estimate is larger than the whole limit, so a large request waits for an idle minute instead of never
  passing. Both are taken, or neither.
- After the answer, the estimate is settled against the upstream's usage: the difference goes back in (or
  is taken out; the token bucket may go below zero, and the client then waits until it refills).
- A refused request learns how long to wait (`Retry-After`) and, like every admitted one, how much is left:
  OpenAI's `x-ratelimit-limit-*`, `x-ratelimit-remaining-*` and `x-ratelimit-reset-*` headers.

`LocalRateLimiter` keeps the buckets in the process; `app.shared.limiter` keeps the same buckets in Redis for
several workers or instances, with the same arithmetic in Lua.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.access.keys import ClientKey

__all__ = ["Admission", "Dimension", "LocalRateLimiter", "Quota", "RateLimiter", "quota", "token_need"]

Dimension = Literal["requests", "tokens"]


# Not frozen: these are made on every limited request, and frozen dataclasses are several times slower to build.
@dataclass(slots=True)
class Quota:
    """One bucket as a client sees it."""

    limit: int
    remaining: int
    reset: float
    """Seconds until the bucket is full again."""


@dataclass(slots=True)
class Admission:
    admitted: bool
    requests: Quota | None = None
    tokens: Quota | None = None
    exhausted: Dimension | None = None
    """Which bucket refused the request."""
    retry_after: float = 0.0
    """Seconds until the request would be admitted."""


class RateLimiter(Protocol):
    async def admit(self, key: ClientKey, tokens: int | None) -> Admission:
        """Count one request of `key` and reserve `tokens` (None: a request that uses no tokens), or refuse."""
        ...

    async def settle(self, key: ClientKey, reserved: int, used: int) -> None:
        """Replace a reservation of `reserved` tokens by the `used` tokens the upstream reported."""
        ...


def token_need(estimate: int, limit: int) -> int:
    """Tokens that must be in the bucket to admit a request estimated at `estimate`."""
    return min(max(estimate, 1), limit)


def quota(limit: int, level: float) -> Quota:
    """What a client is told of a bucket with `limit` per minute, now at `level`."""
    return Quota(limit=limit, remaining=max(0, math.floor(level)), reset=max(0.0, (limit - level) * 60.0 / limit))


@dataclass(slots=True)
class _Bucket:
    limit: int
    level: float
    updated: float

    def refill(self, now: float) -> _Bucket:
        self.level = min(float(self.limit), self.level + (now - self.updated) * self.limit / 60.0)
        self.updated = now
        return self

    def wait_for(self, need: float) -> float:
        """Seconds until the bucket holds `need`."""
        return max(0.0, (need - self.level) * 60.0 / self.limit)


class LocalRateLimiter:
    """Buckets in this process: exact for one worker; with several, each enforces the limit on its own."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, Dimension], _Bucket] = {}

    async def admit(self, key: ClientKey, tokens: int | None) -> Admission:
        now = self._clock()
        requests = self._bucket(key.name, "requests", key.requests_per_minute, now)
        budget = self._bucket(key.name, "tokens", key.tokens_per_minute, now)
        waits: list[tuple[float, Dimension]] = []
        if requests is not None and requests.level < 1:
            waits.append((requests.wait_for(1), "requests"))
        if budget is not None and tokens is not None:
            need = token_need(tokens, budget.limit)
            if budget.level < need:
                waits.append((budget.wait_for(need), "tokens"))
        if not waits:
            if requests is not None:
                requests.level -= 1
            if budget is not None and tokens is not None:
                budget.level -= tokens
        retry_after, exhausted = max(waits, default=(0.0, None))
        return Admission(
            admitted=not waits,
            requests=quota(requests.limit, requests.level) if requests is not None else None,
            tokens=quota(budget.limit, budget.level) if budget is not None else None,
            exhausted=exhausted,
            retry_after=retry_after,
        )

    async def settle(self, key: ClientKey, reserved: int, used: int) -> None:
        budget = self._bucket(key.name, "tokens", key.tokens_per_minute, self._clock())
        if budget is not None:
            budget.level = min(float(budget.limit), budget.level + reserved - used)

    def _bucket(self, name: str, dimension: Dimension, limit: int | None, now: float) -> _Bucket | None:
        if limit is None:
            return None
        bucket = self._buckets.get((name, dimension))
        if bucket is None:
            bucket = self._buckets[(name, dimension)] = _Bucket(limit, float(limit), now)
        return bucket.refill(now)
