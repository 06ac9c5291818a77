"""Where toolsets registered through the admin API are kept, so they survive a restart.

A stored toolset is its definition plus the tools found for it when it was registered or last refreshed,
so a restart (or another instance) has every tool at once, without asking each server again. Every write
moves the store's `generation`, which each worker polls (`[tools] sync_interval`) to pick up what another
worker or instance changed.

`SqliteToolsetStore` (the default) keeps them in one SQLite file (`[tools] database`), which every worker
on the host shares; `app.shared.toolsets.RedisToolsetStore` keeps them in Redis when `redis_url` is set,
for every instance. `MemoryToolsetStore` keeps nothing past the process (tests).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec

from app.tools.kinds.base import ToolSpec

if TYPE_CHECKING:
    from app.tools.definitions import ToolsetDefinition

__all__ = [
    "MemoryToolsetStore",
    "SqliteToolsetStore",
    "StoredToolset",
    "ToolsetStore",
    "decode_stored",
    "default_database",
    "encode_stored",
]


class StoredToolset(msgspec.Struct, kw_only=True):
    definition: msgspec.Raw
    """The definition's JSON, as validated at registration."""
    tools: list[ToolSpec]
    updated_at: float


_decoder = msgspec.json.Decoder(StoredToolset)
_encoder = msgspec.json.Encoder()


def encode_stored(definition: ToolsetDefinition, tools: list[ToolSpec], updated_at: float) -> bytes:
    return _encoder.encode(
        StoredToolset(definition=msgspec.Raw(_encoder.encode(definition)), tools=tools, updated_at=updated_at)
    )


def decode_stored(data: bytes) -> StoredToolset:
    return _decoder.decode(data)


class ToolsetStore(Protocol):
    async def load(self) -> dict[str, bytes]:
        """Every stored toolset, encoded (`encode_stored`), by name."""
        ...

    async def create(self, name: str, data: bytes) -> bool:
        """Store a new toolset; False when one of that name exists."""
        ...

    async def replace(self, name: str, data: bytes) -> bool:
        """Replace a stored toolset; False when there is none of that name."""
        ...

    async def delete(self, name: str) -> bool: ...

    async def generation(self) -> int:
        """A number that changes whenever any worker or instance changes the store."""
        ...

    async def close(self) -> None: ...


def default_database() -> Path:
    """`tools.sqlite3` under the user's data directory (XDG_DATA_HOME, else ~/.local/share)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "llm-router" / "tools.sqlite3"


class SqliteToolsetStore:
    """One SQLite file. Calls run in a worker thread, one at a time: writes are rare and small."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS toolsets (name TEXT PRIMARY KEY, data BLOB NOT NULL)")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS generation (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER)"
            )
            connection.execute("INSERT OR IGNORE INTO generation VALUES (1, 0)")
            self._connection = connection
        return self._connection

    async def _read(self, sql: str) -> list[tuple[object, ...]]:
        def run() -> list[tuple[object, ...]]:
            with self._lock:
                return self._connect().execute(sql).fetchall()

        return await asyncio.to_thread(run)

    async def load(self) -> dict[str, bytes]:
        rows = await self._read("SELECT name, data FROM toolsets")
        return {str(name): bytes(data) for name, data in rows}  # type: ignore[call-overload]

    async def create(self, name: str, data: bytes) -> bool:
        return await self._write("INSERT OR IGNORE INTO toolsets VALUES (?, ?)", (name, data))

    async def replace(self, name: str, data: bytes) -> bool:
        return await self._write("UPDATE toolsets SET data = ? WHERE name = ?", (data, name))

    async def delete(self, name: str) -> bool:
        return await self._write("DELETE FROM toolsets WHERE name = ?", (name,))

    async def generation(self) -> int:
        rows = await self._read("SELECT value FROM generation WHERE id = 1")
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
                        connection.execute("UPDATE generation SET value = value + 1 WHERE id = 1")
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                return changed

        return await asyncio.to_thread(run)


class MemoryToolsetStore:
    """Keeps toolsets in this process only."""

    def __init__(self) -> None:
        self._toolsets: dict[str, bytes] = {}
        self._generation = 0

    async def load(self) -> dict[str, bytes]:
        return dict(self._toolsets)

    async def create(self, name: str, data: bytes) -> bool:
        if name in self._toolsets:
            return False
        self._toolsets[name] = data
        self._generation += 1
        return True

    async def replace(self, name: str, data: bytes) -> bool:
        if name not in self._toolsets:
            return False
        self._toolsets[name] = data
        self._generation += 1
        return True

    async def delete(self, name: str) -> bool:
        if self._toolsets.pop(name, None) is None:
            return False
        self._generation += 1
        return True

    async def generation(self) -> int:
        return self._generation

    async def close(self) -> None:
        return None
