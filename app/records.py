"""What the admin API registers (toolsets, agents), kept so that it survives a restart and reaches every worker.

Each kind of definition is a *collection* of records: a name and the definition's encoded bytes. Every
write moves the collection's `generation`, and each worker follows the collection with a `StoreFollower`,
which polls the generation (`[tools] sync_interval`) and hands the whole collection to its owner when it
moved: so a definition registered on one worker or instance is used by all of them within a second.

    SqliteRecordStore    one SQLite file (`[tools] database`) that every worker on the host shares, a table
                         per collection; the default
    RedisRecordStore     `app.shared.records`: a hash per collection in Redis, when `redis_url` is set, for
                         every instance
    MemoryRecordStore    nothing kept past the process (tests)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

__all__ = ["MemoryRecordStore", "RecordStore", "SqliteRecordStore", "StoreFollower", "default_database"]

log = logging.getLogger(__name__)

# A collection's name is a table name in SQLite: plain words only, never from a request.
_COLLECTION = re.compile(r"^[a-z][a-z_]{0,31}$")


class RecordStore(Protocol):
    collection: str
    """What the records are (`toolsets`, `agents`): a table in SQLite, a key in Redis."""

    async def load(self) -> dict[str, bytes]:
        """Every record, by name."""
        ...

    async def create(self, name: str, data: bytes) -> bool:
        """Store a new record; False when one of that name exists."""
        ...

    async def replace(self, name: str, data: bytes) -> bool:
        """Replace a record; False when there is none of that name."""
        ...

    async def delete(self, name: str) -> bool:
        """Remove a record; False when there was none of that name."""
        ...

    async def generation(self) -> int:
        """A number that changes whenever any worker or instance changes the collection."""
        ...

    async def close(self) -> None: ...


def default_database() -> Path:
    """`tools.sqlite3` under the user's data directory (XDG_DATA_HOME, else ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "llm-router" / "tools.sqlite3"


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (made if missing), waiting for any other holder to let go."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):  # a filesystem without file locks: no worse than without this one
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # which lets go of the lock


def checked_collection(collection: str) -> str:
    if not _COLLECTION.match(collection):
        raise ValueError(f"a collection is named in lower-case letters and '_', not {collection!r}")
    return collection


class SqliteRecordStore:
    """One collection in one SQLite file. Calls run in a worker thread, one at a time: writes are rare and
    small. Several collections (and several workers) share a file, each through its own connection."""

    def __init__(self, path: str | os.PathLike[str], collection: str) -> None:
        self.path = Path(path).expanduser()
        self.collection = checked_collection(collection)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Workers start together and each sets the file up. Switching it to WAL takes a lock that SQLite may
            # refuse at once, without waiting out the busy timeout, while another connection does the same: so
            # the setup runs one connection at a time, under a lock on a file beside the database.
            with _exclusive(self.path.with_name(self.path.name + ".setup")):
                connection = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0, isolation_level=None)
                connection.execute("PRAGMA journal_mode=WAL")
                table = f"CREATE TABLE IF NOT EXISTS {self.collection} (name TEXT PRIMARY KEY, data BLOB NOT NULL)"
                connection.execute(table)
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS generations (collection TEXT PRIMARY KEY, value INTEGER NOT NULL)"
                )
                connection.execute("INSERT OR IGNORE INTO generations VALUES (?, 0)", (self.collection,))
            self._connection = connection
        return self._connection

    async def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        def run() -> list[tuple[object, ...]]:
            with self._lock:
                return self._connect().execute(sql, args).fetchall()

        return await asyncio.to_thread(run)

    async def load(self) -> dict[str, bytes]:
        rows = await self._read(f"SELECT name, data FROM {self.collection}")
        return {str(name): bytes(data) for name, data in rows}  # type: ignore[call-overload]

    async def create(self, name: str, data: bytes) -> bool:
        return await self._write(f"INSERT OR IGNORE INTO {self.collection} VALUES (?, ?)", (name, data))

    async def replace(self, name: str, data: bytes) -> bool:
        return await self._write(f"UPDATE {self.collection} SET data = ? WHERE name = ?", (data, name))

    async def delete(self, name: str) -> bool:
        return await self._write(f"DELETE FROM {self.collection} WHERE name = ?", (name,))

    async def generation(self) -> int:
        rows = await self._read("SELECT value FROM generations WHERE collection = ?", (self.collection,))
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    async def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    async def _write(self, sql: str, args: tuple[object, ...]) -> bool:
        def run() -> bool:
            with self._lock:
                connection = self._connect()
                connection.execute("BEGIN IMMEDIATE")
                try:
                    changed = connection.execute(sql, args).rowcount > 0
                    if changed:
                        connection.execute(
                            "UPDATE generations SET value = value + 1 WHERE collection = ?", (self.collection,)
                        )
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                return changed

        return await asyncio.to_thread(run)


class MemoryRecordStore:
    """Keeps one collection in this process only."""

    def __init__(self, collection: str = "records") -> None:
        self.collection = checked_collection(collection)
        self._records: dict[str, bytes] = {}
        self._generation = 0

    async def load(self) -> dict[str, bytes]:
        return dict(self._records)

    async def create(self, name: str, data: bytes) -> bool:
        if name in self._records:
            return False
        self._records[name] = data
        self._generation += 1
        return True

    async def replace(self, name: str, data: bytes) -> bool:
        if name not in self._records:
            return False
        self._records[name] = data
        self._generation += 1
        return True

    async def delete(self, name: str) -> bool:
        if self._records.pop(name, None) is None:
            return False
        self._generation += 1
        return True

    async def generation(self) -> int:
        return self._generation

    async def close(self) -> None:
        return None


class StoreFollower:
    """Keeps a worker's copy of one collection in step with its store.

    `apply` receives every record whenever the collection's generation moved since the last look (the first
    `sync` always loads); it decides what changed, typically by comparing each record's bytes with the ones
    its copy was built from. `each_poll`, if given, runs after every poll of the background loop (the tool
    registry retries config toolsets whose servers were down then).
    """

    def __init__(
        self,
        store: RecordStore,
        apply: Callable[[dict[str, bytes]], None],
        *,
        interval: float,
        each_poll: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self._apply = apply
        self._each_poll = each_poll
        self._generation: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def sync(self) -> None:
        """Pick up what another worker or instance registered, replaced or removed."""
        generation = await self.store.generation()
        if generation == self._generation:
            return
        self._apply(await self.store.load())
        self._generation = generation

    def start(self) -> None:
        """Poll the store in the background until `close`."""
        self._task = asyncio.create_task(self._follow(), name=f"follow the stored {self.store.collection}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sync()
            except Exception:  # the store is down, or a record is odd: keep what is loaded, and look again
                log.exception("reading the stored %s failed", self.store.collection)
            if self._each_poll is not None:
                try:
                    await self._each_poll()
                except Exception:
                    log.exception("the periodic work on the stored %s failed", self.store.collection)
