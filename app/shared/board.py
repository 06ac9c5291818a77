"""`RedisHealthBoard`: target health shared by every worker and instance, through Redis.

The same board as `LocalHealthBoard` (circuit breakers, rate-limit cooldowns, requests in flight, latency),
with the state in Redis and each decision made by one Lua script, so that a concurrency limit or the single
probe of a half-open circuit holds across instances: two instances cannot both take the last slot. The
scripts read Redis's own clock, so instances whose clocks disagree still agree on cooldowns.

Every key expires: a target's hash a day after it was last used, a group's cooldown when it ends, and each
attempt's lease (its slot in the in-flight count) after `LEASE_SECONDS`, so an instance that dies holding
slots gives them back. The protocol's `release` names no lease, so the board remembers the leases it took
per target and returns one of them: leases of one target are interchangeable for counting.

While Redis is unreachable (`RedisLink`), every call goes to a local board instead, and the router keeps
routing on what this process sees.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from typing import TYPE_CHECKING

from app.routing.health import CircuitState, TargetStatus
from app.shared.link import RedisUnavailable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.routing.health import LocalHealthBoard, Outcome
    from app.settings import RoutingSettings
    from app.shared.link import RedisLink

__all__ = ["LEASE_SECONDS", "RedisHealthBoard"]

# Longer than any attempt should hold a slot (a stream holds it to its end); a lease left behind by a dead
# instance is forgotten after this.
LEASE_SECONDS = 900
_KEY_TTL_MS = 24 * 3600 * 1000
_LOCAL = None  # a lease taken on the local board while Redis was unreachable


class RedisHealthBoard:
    def __init__(self, link: RedisLink, local: LocalHealthBoard, settings: RoutingSettings) -> None:
        self.link = link
        self.local = local
        self.settings = settings
        self._acquire = link.script("common", "board", "acquire")
        self._release = link.script("common", "board", "release")
        self._status = link.script("common", "board", "status")
        self._instance = uuid.uuid4().hex[:12]
        self._sequence = itertools.count()
        self._leases: dict[str, list[str | None]] = {}
        # A half-open probe holds the target for at most one request's deadline, even if its holder dies.
        self._probe_ms = int(settings.timeout * 1000)

    async def status(self, targets: Sequence[str], groups: Sequence[str | None]) -> list[TargetStatus]:
        keys = [key for target, group in zip(targets, groups, strict=True) for key in self._keys(target, group)]
        try:
            rows = await self.link.run(lambda: self._status(keys=keys))
        except RedisUnavailable:
            return await self.local.status(targets, groups)
        return [_status(target, row) for target, row in zip(targets, rows, strict=True)]

    async def acquire(self, target: str, group: str | None, max_concurrent: int | None) -> bool:
        lease = f"{self._instance}:{next(self._sequence)}"
        keys = [*self._keys(target, group), self.link.key("board", "targets")]
        args: list[str | int] = [target, max_concurrent or 0, lease, LEASE_SECONDS * 1000, self._probe_ms, _KEY_TTL_MS]
        try:
            acquired = bool(await self.link.run(lambda: self._acquire(keys=keys, args=args)))
        except RedisUnavailable:
            acquired = await self.local.acquire(target, group, max_concurrent)
            lease_taken: str | None = _LOCAL
        else:
            lease_taken = lease
        if acquired:
            self._leases.setdefault(target, []).append(lease_taken)
        return acquired

    async def release(
        self,
        target: str,
        group: str | None,
        outcome: Outcome,
        latency: float | None,
        retry_after: float | None,
    ) -> None:
        lease: str | None = ""  # released without a known lease: nothing to take out of the in-flight set
        leases = self._leases.get(target)
        if leases:
            lease = leases.pop()
            if not leases:
                del self._leases[target]
        if lease is _LOCAL:
            await self.local.release(target, group, outcome, latency, retry_after)
            return
        settings = self.settings
        args: list[str | int] = [
            lease or "",
            outcome.value,
            "" if latency is None else repr(latency),
            "" if retry_after is None else repr(retry_after),
            settings.failure_threshold,
            int(settings.cooldown * 1000),
            int(settings.rate_limit_cooldown * 1000),
            _KEY_TTL_MS,
            "1" if group is not None else "0",
        ]
        keys = self._keys(target, group)
        try:
            await self.link.run(lambda: self._release(keys=keys, args=args))
        except RedisUnavailable:
            # The Redis lease lapses by itself; what the attempt taught goes to the local board meanwhile.
            await self.local.release(target, group, outcome, latency, retry_after)

    async def snapshot(self) -> list[TargetStatus]:
        known = self.link.key("board", "targets")
        try:
            names = await self.link.run(lambda: self._known_targets(known))
        except RedisUnavailable:
            return await self.local.snapshot()
        return await self.status(names, [None] * len(names))

    async def reset(self, target: str | None = None) -> None:
        await self.local.reset(target)
        with contextlib.suppress(RedisUnavailable):
            await self.link.run(lambda: self._forget(target))

    async def _known_targets(self, known: str) -> list[str]:
        client = self.link.client
        await client.zremrangebyscore(known, "-inf", time.time() * 1000 - _KEY_TTL_MS)
        return sorted(_text(name) for name in await client.zrange(known, 0, -1))

    async def _forget(self, target: str | None) -> None:
        client = self.link.client
        if target is not None:
            target_key, in_flight, _ = self._keys(target, None)
            await client.delete(target_key, in_flight)
            await client.zrem(self.link.key("board", "targets"), target)
            return
        keys = [key async for key in client.scan_iter(match=self.link.key("board", "*"), count=500)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])

    def _keys(self, target: str, group: str | None) -> list[str]:
        key = self.link.key
        # A target with no group reads a group key that is never written.
        return [key("board", "target", target), key("board", "in-flight", target), key("board", "group", group or "")]


def _status(target: str, row: list[bytes | int]) -> TargetStatus:
    state, in_flight, latency, success_rate, consecutive, available_in, attempts, failures = row
    return TargetStatus(
        target=target,
        state=CircuitState(_text(state)),
        in_flight=int(in_flight),
        latency=float(latency) if latency else None,
        success_rate=float(success_rate),
        consecutive_failures=int(consecutive),
        available_in=int(available_in) / 1000,
        attempts=int(attempts),
        failures=int(failures),
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
