"""The record store behind what the admin API registers: collections side by side in one SQLite file, and
a follower that hands a worker the collection whenever another writer changed it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

from app.records import MemoryRecordStore, SqliteRecordStore, StoreFollower

if TYPE_CHECKING:
    from pathlib import Path

# A worker starting up: it opens its store when told to (a line on its input), and says how that went.
OPENING_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from app.records import SqliteRecordStore

    store = SqliteRecordStore(sys.argv[1], sys.argv[2])
    loop = asyncio.new_event_loop()
    loop.run_until_complete(asyncio.to_thread(print, "ready", flush=True))  # the store's thread, started
    sys.stdin.readline()
    try:
        loop.run_until_complete(store.generation())
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
    else:
        print("opened", flush=True)
    """
)


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


def test_workers_starting_together_each_open_a_new_file(tmp_path: Path) -> None:
    """Each round, twelve processes open stores on one new file at the same moment; all of them must open."""
    outcomes: list[str] = []
    for round_ in range(4):
        path = tmp_path / f"round-{round_}.sqlite3"
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", OPENING_WORKER, str(path), collection],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for collection in ("toolsets", "agents") * 6
        ]
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outcomes += [worker.communicate(timeout=30)[0].strip() for worker in workers]

    assert set(outcomes) == {"opened"}
