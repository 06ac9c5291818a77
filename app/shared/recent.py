"""`RedisRequestFeed`: the recent requests of every worker and instance, through Redis, for the dashboard.

Each worker keeps its own records as they come (`app.telemetry.recent.RecentRequests`), and every
`[dashboard] share_interval` seconds hands what is new to Redis in one round trip, and only when something is:

    <prefix>:recent:requests            a stream of records, trimmed to about `[dashboard] history`
    <prefix>:recent:traffic:<bucket>    a hash per five-second bucket: each worker adds its counts
    <prefix>:recent:target-errors       a hash of each target's last error

A dashboard's update reads what is new in the stream since its last one, and the traffic buckets still
filling; older buckets are read once. While Redis is unreachable the feed is this worker's own, and its
counts and errors are handed over once Redis is back; its records of that time stay its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec

from app.shared.link import RedisUnavailable
from app.telemetry.recent import BUCKET_SECONDS, BUCKETS, WIDTH, LocalFeed, RequestRecord, TargetError

if TYPE_CHECKING:
    from app.shared.link import RedisLink
    from app.telemetry.recent import RecentRequests, Window

__all__ = ["RedisRequestFeed"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
_record = msgspec.json.Decoder(RequestRecord)
_error = msgspec.json.Decoder(TargetError)
_ERRORS_TTL = 24 * 3600
# Buckets this recent may still grow (another instance's hand-over is up to `share_interval` late).
_FILLING = 3
_LOCAL = "local:"
_SHARED = "redis:"


class RedisRequestFeed:
    def __init__(self, link: RedisLink, local: RecentRequests, *, history: int, share_interval: float) -> None:
        self.link = link
        self.local = local
        self.history = history
        self.share_interval = share_interval
        self._own = LocalFeed(local)
        self._stream = link.key("recent", "requests")
        self._errors = link.key("recent", "target-errors")
        self._shared = local.added
        self._sent: Window = {}
        """What this worker has added to each bucket in Redis so far."""
        self._buckets: Window = {}
        """Every instance's traffic, as last read."""
        self._sharing: asyncio.Task[None] | None = None

    def _bucket_key(self, number: int) -> str:
        return self.link.key("recent", "traffic", str(number))

    async def start(self) -> None:
        self._sharing = asyncio.create_task(self._share_every_interval(), name="share recent requests")

    async def close(self) -> None:
        if self._sharing is not None:
            self._sharing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sharing
        with contextlib.suppress(Exception):
            await self.share()

    # ------------------------------------------------------------------------------------------- sharing

    async def _share_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.share_interval)
            try:
                await self.share()
            except Exception:  # the dashboard's data must never take the worker down
                log.exception("sharing the recent requests failed")

    async def share(self) -> None:
        """Hand Redis what is new since the last hand-over, in one round trip."""
        records = self.local.newer_than(self._shared)
        self._shared = self.local.added
        window = self.local.traffic.window(time.time())
        deltas = {number: _minus(row, self._sent.get(number)) for number, row in window.items()}
        deltas = {number: delta for number, delta in deltas.items() if delta}
        changed = self.local.target_errors.changed
        errors, self.local.target_errors.changed = dict(changed), {}
        if not (records or deltas or errors):
            return

        async def hand_over() -> None:
            async with self.link.client.pipeline(transaction=False) as pipe:
                for record in records:
                    pipe.xadd(self._stream, {"r": _encoder.encode(record)}, maxlen=self.history, approximate=True)
                for number, delta in deltas.items():
                    key = self._bucket_key(number)
                    for column, value in delta.items():
                        pipe.hincrby(key, str(column), value)
                    pipe.expire(key, (BUCKETS + _FILLING) * BUCKET_SECONDS)
                if errors:
                    pipe.hset(self._errors, mapping={name: _encoder.encode(error) for name, error in errors.items()})
                    pipe.expire(self._errors, _ERRORS_TTL)
                await pipe.execute()

        try:
            await self.link.run(hand_over)
        except RedisUnavailable:
            # Counts and errors go with the next hand-over that reaches Redis; records stay this worker's.
            for name, error in errors.items():
                self.local.target_errors.changed.setdefault(name, error)
            return
        self._sent = window

    # ------------------------------------------------------------------------------------------- reading

    async def latest(self, limit: int) -> list[RequestRecord]:
        try:
            entries = await self.link.run(lambda: self.link.client.xrevrange(self._stream, count=limit))
        except RedisUnavailable:
            return await self._own.latest(limit)
        return _records(entries)

    async def since(self, cursor: str | None) -> tuple[list[RequestRecord], str]:
        if self.link.up and cursor is not None and cursor.startswith(_SHARED):
            last = cursor.removeprefix(_SHARED)
            try:
                entries = await self.link.run(
                    lambda: self.link.client.xrange(self._stream, min=f"({last}", count=self.history)
                )
            except RedisUnavailable:
                pass
            else:
                if entries:
                    last = _text(entries[-1][0])
                return _records(entries), _SHARED + last
        elif self.link.up:
            try:
                newest = await self.link.run(lambda: self.link.client.xrevrange(self._stream, count=1))
            except RedisUnavailable:
                pass
            else:
                return [], _SHARED + (_text(newest[0][0]) if newest else "0-0")
        # Redis is unreachable: this worker's own records, from where a local cursor left off.
        own = cursor.removeprefix(_LOCAL) if cursor is not None and cursor.startswith(_LOCAL) else None
        records, position = await self._own.since(own)
        return records, _LOCAL + position

    async def traffic(self) -> Window:
        newest = int(time.time()) // BUCKET_SECONDS
        numbers = range(newest - BUCKETS + 1, newest + 1)
        wanted = [number for number in numbers if number not in self._buckets or number > newest - _FILLING]

        async def read() -> list[Any]:
            async with self.link.client.pipeline(transaction=False) as pipe:
                for number in wanted:
                    pipe.hgetall(self._bucket_key(number))
                return await pipe.execute()

        try:
            rows = await self.link.run(read)
        except RedisUnavailable:
            return await self._own.traffic()
        buckets = {number: row for number, row in self._buckets.items() if number > newest - BUCKETS}
        for number, fields in zip(wanted, rows, strict=True):
            row = [0] * WIDTH
            for column, value in fields.items():
                index = int(column)
                if 0 <= index < WIDTH:
                    row[index] = int(value)
            buckets[number] = row
        self._buckets = buckets
        return {number: row for number, row in buckets.items() if any(row)}

    async def target_errors(self) -> dict[str, TargetError]:
        try:
            found = await self.link.run(lambda: self.link.client.hgetall(self._errors))
        except RedisUnavailable:
            return dict(self.local.target_errors.errors)
        errors: dict[str, TargetError] = {}
        for name, data in found.items():
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                errors[_text(name)] = _error.decode(data)
        return errors

    async def forget_target(self, target: str | None) -> None:
        self.local.target_errors.forget(target)
        with contextlib.suppress(RedisUnavailable):
            if target is None:
                await self.link.run(lambda: self.link.client.delete(self._errors))
            else:
                await self.link.run(lambda: self.link.client.hdel(self._errors, target))


def _minus(row: list[int], sent: list[int] | None) -> dict[int, int]:
    """What a bucket gained since it was last handed over, by column."""
    before = sent or [0] * WIDTH
    return {column: now - then for column, (now, then) in enumerate(zip(row, before, strict=True)) if now != then}


def _records(entries: Any) -> list[RequestRecord]:
    """Stream entries (`[(id, {b"r": record}), ...]`) as records."""
    return [_record.decode(fields[b"r"]) for _, fields in entries]


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""
