"""`RedisHealthBoard`: target health shared by every worker and instance, through Redis.

The same board as `LocalHealthBoard` (circuit breakers, rate-limit cooldowns, requests in flight, latency),
with the state in Redis and each decision made by one Lua script, so that a concurrency limit or the single
probe of a half-open circuit holds across instances: two instances cannot both take the last slot. The
scripts read Redis's own clock, so instances whose clocks disagree still agree on cooldowns.

Each attempt holds a lease, its slot in the in-flight count, for `[redis] lease_ttl` seconds. Every
`lease_renew_interval` seconds the worker renews the leases of all its running attempts and streams in one
round trip, so a lease outlives its attempt by at most `lease_ttl`, whatever happened to the release: an
instance that died, or a release lost to a Redis outage. Releases lost that way are also sent again with
the next renewal once Redis is back, which gives their slots back at once. The protocol's `release` names
no lease, so the board remembers the leases it took per target and returns one of them: leases of one target
are interchangeable for counting. Every other key expires too: a target's hash a day after it was last
used, a group's cooldown when it ends.

While Redis is unreachable (`RedisLink`), every call goes to a local board instead, and the router keeps
routing on what this process sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from typing import TYPE_CHECKING

from app.routing.health import CircuitState, TargetStatus
from app.shared.link import RedisUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from app.routing.health import LocalHealthBoard, Outcome
    from app.settings import RedisSettings, RoutingSettings
    from app.shared.link import RedisLink

__all__ = ["RedisHealthBoard"]

log = logging.getLogger(__name__)

_KEY_TTL_MS = 24 * 3600 * 1000


class RedisHealthBoard:
    def __init__(
        self,
        link: RedisLink,
        local: LocalHealthBoard,
        settings: RoutingSettings,
        redis: RedisSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.local = local
        self.settings = settings
        self._acquire = link.script("common", "board", "acquire")
        self._release = link.script("common", "board", "release")
        self._renew = link.script("common", "board", "renew")
        self._status = link.script("common", "board", "status")
        self._instance = uuid.uuid4().hex[:12]
        self._sequence = itertools.count()
        self._lease_ttl = redis.lease_ttl
        self._renew_interval = redis.lease_renew_interval
        self._clock = clock
        # Per target, the leases taken and not yet released; None for one taken on the local board.
        self._leases: dict[str, list[str | None]] = {}
        # Leases whose release did not reach Redis, and when: sent again until they would have lapsed anyway.
        self._unreleased: dict[str, list[tuple[str, float]]] = {}
        self._renewal: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start renewing the leases of running attempts (in the worker's event loop)."""
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.create_task(self._renew_every_interval(), name="redis-lease-renewal")

    async def close(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewal

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
        args: list[str | int] = [
            target,
            max_concurrent or 0,
            lease,
            int(self._lease_ttl * 1000),
            _KEY_TTL_MS,
            self.settings.max_tracked_targets,
            self.link.key("board", ""),
        ]
        try:
            acquired = bool(await self.link.run(lambda: self._acquire(keys=keys, args=args)))
        except RedisUnavailable:
            acquired = await self.local.acquire(target, group, max_concurrent)
            lease_taken: str | None = None
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
        if lease is None:
            await self.local.release(target, group, outcome, latency, retry_after)
            return
        settings = self.settings
        args: list[str | int] = [
            lease,
            outcome.value,
            "" if latency is None else repr(latency),
            "" if retry_after is None else repr(retry_after),
            settings.failure_threshold,
            int(settings.cooldown * 1000),
            int(settings.rate_limit_cooldown * 1000),
            _KEY_TTL_MS,
            "1" if group is not None else "0",
            target,
        ]
        keys = [*self._keys(target, group), self.link.key("board", "targets")]
        try:
            await self.link.run(lambda: self._release(keys=keys, args=args))
        except RedisUnavailable:
            if lease:
                self._unreleased.setdefault(target, []).append((lease, self._clock()))
            # What the attempt taught goes to the local board meanwhile.
            await self.local.release(target, group, outcome, latency, retry_after)

    async def renew(self) -> None:
        """Extend the leases of running attempts, and give back those whose release did not reach Redis."""
        now = self._clock()
        # Older ones have lapsed by now: nothing left to give back.
        unreleased = {
            target: fresh
            for target, leases in self._unreleased.items()
            if (fresh := [(lease, when) for lease, when in leases if now - when < self._lease_ttl])
        }
        self._unreleased = {}
        keys: list[str] = []
        args: list[str | int] = [int(self._lease_ttl * 1000)]
        for target in self._leases.keys() | unreleased.keys():
            held = [lease for lease in self._leases.get(target, ()) if lease is not None]
            gone = [lease for lease, _ in unreleased.get(target, ())]
            if held or gone:
                keys += self._keys(target, None)[:2]
                args += [len(held), *held, len(gone), *gone]
        if not keys:
            return
        try:
            await self.link.run(lambda: self._renew(keys=keys, args=args))
        except RedisUnavailable:
            for target, leases in unreleased.items():
                self._unreleased.setdefault(target, []).extend(leases)
            raise

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

    async def _renew_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self._renew_interval)
            try:
                await self.renew()
            except RedisUnavailable:
                continue  # the leases lapse unless Redis is back before they do; the link logs the outage
            except Exception:  # a renewal that fails must not stop the next ones
                log.exception("renewing the leases of running attempts failed")

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
        # A target with no group reads a group key that is never written. acquire.lua names the first two
        # the same way when it forgets targets.
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
