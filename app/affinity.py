"""Workers pinned to CPUs (`pin_workers`): each worker, every thread of it, stays on one CPU of the server's.

A worker runs two busy threads: granian's runtime thread, which reads and writes the sockets, and the Python
thread that runs the application. Every request passes between them several times. On one CPU a hand-over
is a switch between two threads that share a warm cache; on two CPUs it is a wake-up sent across, and the
scheduler moves the threads between CPUs besides. In two runs of the benchmark, on a 2-CPU machine, pinned
workers added 19-45% less latency at one connection.

It is off by default: a pinned worker cannot move away from a CPU that something else keeps busy. It suits a
server that has its CPUs to itself: a dedicated machine, `docker run --cpuset-cpus`, Kubernetes' static CPU
manager, or `taskset -c` in front of `llm-router serve`. The CPUs are those the server was started on
(`os.sched_getaffinity`), taken in order.

Workers spread over them round-robin in the order they claim a slot: each takes the first slot no living
worker holds, a file in a folder of the server's own, held by an exclusive lock for as long as the worker
lives. A worker that granian starts in place of one that died takes over that one's CPU.
"""

from __future__ import annotations

import fcntl
import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["claim_slot", "pin_worker"]

log = logging.getLogger(__name__)

# More workers than this on one server is a mistake elsewhere; the search for a free slot stops here.
_MAX_SLOTS = 4096


def pin_worker(slots: Path) -> int | None:
    """Pin this process, the threads it runs and those it starts later, to the CPU of the first free slot in
    `slots`. Returns the CPU, or None where the system has no affinity (not Linux) or no slot is free."""
    if not hasattr(os, "sched_setaffinity"):
        log.warning("pin_workers is set, but this system cannot pin a process to a CPU: the workers are not pinned")
        return None
    cpus = sorted(os.sched_getaffinity(0))
    claimed = claim_slot(slots)
    if claimed is None:
        log.warning("pin_workers: no free CPU slot in %s; this worker is not pinned", slots)
        return None
    slot, _ = claimed  # the descriptor stays open, and the slot held, for the worker's life
    cpu = cpus[slot % len(cpus)]
    # Threads started from now on inherit the affinity of the thread that starts them; set every one there is.
    for thread in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(thread), {cpu})
        except ProcessLookupError:  # a thread that ended meanwhile
            continue
    log.info("worker %d pinned to CPU %d", os.getpid(), cpu)
    return cpu


def claim_slot(slots: Path) -> tuple[int, int] | None:
    """The first slot in the folder `slots` that no living process holds, and the descriptor whose lock holds it
    (closing the descriptor, or the process ending, frees it); None if all are taken."""
    for slot in range(_MAX_SLOTS):
        descriptor = os.open(slots / str(slot), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        return slot, descriptor
    return None
