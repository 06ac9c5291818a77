"""The record store behind what the admin API registers: collections side by side in one SQLite file, and
a follower that hands a worker the collection whenever another writer changed it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.records import MemoryRecordStore, SqliteRecordStore, StoreFollower

if TYPE_CHECKING:
    from pathlib import Path


async def test_collections_share_a_sqlite_file_each_with_its_own_records_and_generation(tmp_path: Path) -> None:
    path = tmp_path / "router.sqlite3"
    toolsets, agents = SqliteRecordStore(path, "toolsets"), SqliteRecordStore(path, "agents")
    try:
        assert await agents.create("helper", b"{}")
        assert not await agents.create("helper", b"{}")
        assert await toolsets.generation() == 0
        assert await agents.generation() == 1
        assert await toolsets.load() == {}
        assert not await agents.replace("nobody", b"{}")
        assert await agents.generation() == 1  # nothing changed, nothing to pick up
    finally:
        await toolsets.close()
        await agents.close()
    reopened = SqliteRecordStore(path, "agents")
    try:
        assert await reopened.load() == {"helper": b"{}"}
    finally:
        await reopened.close()


async def test_a_follower_applies_the_collection_only_when_it_changed() -> None:
    store = MemoryRecordStore("agents")
    seen: list[dict[str, bytes]] = []
    follower = StoreFollower(store, seen.append, interval=60)

    await follower.sync()
    await follower.sync()
    await store.create("a", b"1")
    await follower.sync()
    await store.delete("a")
    await follower.sync()

    assert seen == [{}, {"a": b"1"}, {}]
