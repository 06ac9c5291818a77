"""`SharedFilesFeed`: the recent requests of every worker of one instance without Redis, through files.

With several workers, `llm-router serve` gives them a directory they share (the one Prometheus' multiprocess
mode uses); this feed keeps a folder in it. Every `[dashboard] share_interval` seconds, and only when
something is new, each worker appends its new records to a file of its own, one JSON object per line
(`requests-<pid>.jsonl`, started afresh past `[dashboard] history` lines, the previous one kept as `.1`), and
replaces a small file with its traffic buckets and targets' errors (`state-<pid>.json`). A dashboard's
update reads what the record files gained since the last one, and every state file: a few kilobytes per
worker, whichever worker the dashboard's connection landed on.

A target reset on one worker is written to `resets.json`, so no worker shows an error from before it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import time
from typing import TYPE_CHECKING, BinaryIO

import msgspec

from app.telemetry.recent import RequestRecord, TargetError, merge_windows

if TYPE_CHECKING:
    from pathlib import Path

    from app.telemetry.recent import RecentRequests, Window

__all__ = ["SHARED_FOLDER", "SharedFilesFeed"]

log = logging.getLogger(__name__)

SHARED_FOLDER = "recent-requests"
"""The folder in the workers' shared directory (`llm-router serve` empties it at start)."""

_encoder = msgspec.json.Encoder()
_record = msgspec.json.Decoder(RequestRecord)


class _State(msgspec.Struct):
    traffic: dict[int, list[int]]
    errors: dict[str, TargetError]


_state = msgspec.json.Decoder(_State)
_resets = msgspec.json.Decoder(dict[str, float])
_ALL = "*"


class _Tail:
    """One worker's record file, read from where the last read stopped (and across its restarts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO | None = None
        self.inode = 0
        self.partial = b""

    def read(self) -> list[bytes]:
        lines: list[bytes] = []
        if self.file is None:
            # A file first seen: its predecessor first, for the history a new dashboard opens on.
            previous = self.path.with_name(self.path.name + ".1")
            with contextlib.suppress(OSError):
                lines += previous.read_bytes().splitlines()
            if not self._open():
                return lines
        assert self.file is not None
        lines += self._drain()
        try:
            inode = os.stat(self.path).st_ino
        except OSError:
            return lines
        if inode != self.inode:  # started afresh: what the old file still held is read, then the new one
            self.close()
            if self._open():
                lines += self._drain()
        return lines

    def _open(self) -> bool:
        try:
            self.file = self.path.open("rb")
        except OSError:
            return False
        self.inode = os.fstat(self.file.fileno()).st_ino
        self.partial = b""
        return True

    def _drain(self) -> list[bytes]:
        assert self.file is not None
        data = self.partial + self.file.read()
        complete, _, self.partial = data.rpartition(b"\n")
        return complete.splitlines() if complete else []

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class SharedFilesFeed:
    def __init__(
        self,
        folder: Path,
        local: RecentRequests,
        *,
        history: int,
        share_interval: float,
        worker: str | None = None,
    ) -> None:
        self.folder = folder
        self.local = local
        self.history = history
        self.share_interval = share_interval
        worker = worker or str(os.getpid())
        self._records = folder / f"requests-{worker}.jsonl"
        self._state_file = folder / f"state-{worker}.json"
        self._resets_file = folder / "resets.json"
        self._lines = 0
        self._shared = local.added
        self._state_written: bytes = b""
        self._tails: dict[str, _Tail] = {}
        self._view: collections.deque[RequestRecord] = collections.deque(maxlen=history)
        self._read = 0
        self._sharing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sharing = asyncio.create_task(self._share_every_interval(), name="share recent requests")

    async def close(self) -> None:
        if self._sharing is not None:
            self._sharing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sharing
        with contextlib.suppress(OSError):
            self.share()
        for tail in self._tails.values():
            tail.close()

    # ------------------------------------------------------------------------------------------- sharing

    async def _share_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.share_interval)
            try:
                self.share()
            except Exception:  # the dashboard's data must never take the worker down
                log.exception("sharing the recent requests failed")

    def share(self) -> None:
        """Append the new records to this worker's file, and rewrite its state if it changed."""
        records = self.local.newer_than(self._shared)
        self._shared = self.local.added
        if records:
            if self._lines + len(records) > self.history:
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self._records, self._records.with_name(self._records.name + ".1"))
                self._lines = 0
            with self._records.open("ab") as file:
                file.write(b"".join(_encoder.encode(record) + b"\n" for record in records))
            self._lines += len(records)
        self.local.target_errors.changed.clear()
        state = _encoder.encode(
            _State(traffic=self.local.traffic.window(time.time()), errors=self.local.target_errors.errors)
        )
        if state != self._state_written:
            _write_whole(self._state_file, state)
            self._state_written = state

    # ------------------------------------------------------------------------------------------- reading

    def _refresh(self) -> None:
        """Add what every worker's file gained to this worker's view of them."""
        fresh: list[RequestRecord] = []
        for path in self.folder.glob("requests-*.jsonl"):
            tail = self._tails.get(path.name)
            if tail is None:
                tail = self._tails[path.name] = _Tail(path)
            for line in tail.read():
                with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                    fresh.append(_record.decode(line))
        fresh.sort(key=lambda record: record.at)
        self._view.extend(fresh)
        self._read += len(fresh)

    async def latest(self, limit: int) -> list[RequestRecord]:
        self._refresh()
        return list(itertools.islice(reversed(self._view), limit))

    async def since(self, cursor: str | None) -> tuple[list[RequestRecord], str]:
        self._refresh()
        if cursor is None:
            return [], str(self._read)
        fresh = min(self._read - int(cursor), len(self._view))
        records = list(itertools.islice(reversed(self._view), max(fresh, 0)))
        records.reverse()
        return records, str(self._read)

    async def traffic(self) -> Window:
        return merge_windows(state.traffic for state in self._states())

    async def target_errors(self) -> dict[str, TargetError]:
        resets = self._reset_times()
        everything = resets.get(_ALL, 0.0)
        errors: dict[str, TargetError] = {}
        for state in self._states():
            for target, error in state.errors.items():
                if error.at <= max(everything, resets.get(target, 0.0)):
                    continue
                if target not in errors or errors[target].at < error.at:
                    errors[target] = error
        return errors

    async def forget_target(self, target: str | None) -> None:
        self.local.target_errors.forget(target)
        resets = self._reset_times()
        # A millisecond on: an error stamped in the same millisecond (rounded up) came before the reset.
        resets[target or _ALL] = time.time() + 0.001
        _write_whole(self._resets_file, _encoder.encode(resets))

    def _states(self) -> list[_State]:
        states: list[_State] = []
        for path in self.folder.glob("state-*.json"):
            with contextlib.suppress(OSError, msgspec.DecodeError, msgspec.ValidationError):
                states.append(_state.decode(path.read_bytes()))
        return states

    def _reset_times(self) -> dict[str, float]:
        try:
            return _resets.decode(self._resets_file.read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return {}


def _write_whole(path: Path, data: bytes) -> None:
    """Replace a file at once: a reader sees the old contents or the new, never half of them."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(data)
    os.replace(partial, path)
