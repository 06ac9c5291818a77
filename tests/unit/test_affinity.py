"""Workers pinned to CPUs: the slots they claim, and a pinned process's threads, those it had and those it starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from app.affinity import claim_slot

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")


def test_each_worker_claims_the_first_free_slot_and_a_freed_one_is_taken_again(tmp_path: Path) -> None:
    held = [claim_slot(tmp_path) for _ in range(3)]
    assert [slot for slot, _ in filter(None, held)] == [0, 1, 2]

    _, second = held[1] or (0, -1)
    os.close(second)  # as when its worker ends
    again = claim_slot(tmp_path)

    assert again is not None
    assert again[0] == 1
    for claimed in (held[0], held[2], again):
        assert claimed is not None
        os.close(claimed[1])


PINNED_WORKER = textwrap.dedent(
    """
    import json, logging, os, sys, threading
    from pathlib import Path

    from app.affinity import pin_worker

    def cpus(thread: threading.Thread | None = None) -> list[int]:
        return sorted(os.sched_getaffinity(thread.native_id if thread else 0))

    logging.basicConfig(level=logging.INFO)
    stop = threading.Event()
    before = threading.Thread(target=stop.wait)
    before.start()
    cpu = pin_worker(Path(sys.argv[1]))
    after = threading.Thread(target=stop.wait)
    after.start()
    print(json.dumps({"cpu": cpu, "main": cpus(), "before": cpus(before), "after": cpus(after)}))
    stop.set()
    """
)


def test_a_pinned_worker_runs_every_thread_on_its_slots_cpu(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    first = claim_slot(tmp_path)  # a worker already holds slot 0: this one gets slot 1, the next CPU
    assert first is not None
    try:
        done = subprocess.run(
            [sys.executable, "-c", PINNED_WORKER, str(tmp_path)], capture_output=True, text=True, check=True
        )
    finally:
        os.close(first[1])

    cpu = cpus[1 % len(cpus)]
    assert json.loads(done.stdout) == {"cpu": cpu, "main": [cpu], "before": [cpu], "after": [cpu]}
    assert f"pinned to CPU {cpu}" in done.stderr
