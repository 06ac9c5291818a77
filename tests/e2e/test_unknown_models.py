"""Clients can name any model: thousands of names that no upstream knows must leave no health state behind.

The scripted upstream answers 404 for every one of them. The figures (size of `/admin/targets`, the worker's
resident memory) are printed, for `pytest -s`.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.upstreams import OpenRouterDialect
from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-e2e-unknown-models-0123456789"
# The figures came from 10,000 names; set E2E_UNKNOWN_MODEL_NAMES=10000 to measure them (a few minutes).
NAMES = int(os.environ.get("E2E_UNKNOWN_MODEL_NAMES", "300"))
CONCURRENCY = 32


@pytest.fixture(scope="module")
def lone_router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    """A router of its own, so that what it keeps comes from this test alone."""
    env = {
        "OPENROUTER_API_KEY": OpenRouterDialect.key,
        "OPENROUTER_BASE_URL": upstream.base_url("openrouter"),
        "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY,
    }
    yield from run_router(tmp_path_factory.mktemp("unknown-models"), env)


def targets_listing(router: RouterProcess) -> httpx.Response:
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    return httpx.get(f"{router.root_url}/admin/targets", headers=headers, timeout=30)


def resident_mib(pid: int) -> float:
    """Resident memory of a process and its descendants (the workers), in MiB."""
    total_kib = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        status = Path(f"/proc/{current}/status").read_text(encoding="ascii")
        total_kib += int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
        for task in Path(f"/proc/{current}/task").iterdir():
            pending += [int(child) for child in (task / "children").read_text(encoding="ascii").split()]
    return total_kib / 1024


async def ask_for_unknown_models(router: RouterProcess, count: int) -> set[int]:
    statuses: set[int] = set()
    slots = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=router.base_url, timeout=30, limits=limits) as client:

        async def ask(number: int) -> None:
            body = {"model": f"openrouter/vendor/missing-{number}", "messages": [{"role": "user", "content": "Hi"}]}
            async with slots:
                statuses.add((await client.post("/chat/completions", json=body)).status_code)

        await asyncio.gather(*(ask(number) for number in range(count)))
    return statuses


async def test_unknown_model_names_leave_the_health_board_empty(lone_router: RouterProcess) -> None:
    await ask_for_unknown_models(lone_router, 50)  # warm up: connections, caches, code paths
    listing_before = targets_listing(lone_router)
    rss_before = resident_mib(lone_router.process.pid)

    started = time.monotonic()
    statuses = await ask_for_unknown_models(lone_router, NAMES)
    took = time.monotonic() - started
    listing_after = targets_listing(lone_router)
    rss_after = resident_mib(lone_router.process.pid)

    print(
        f"\n{NAMES} unknown model names in {took:.1f} s: /admin/targets {len(listing_before.content)} -> "
        f"{len(listing_after.content)} bytes, router RSS {rss_before:.1f} -> {rss_after:.1f} MiB"
    )
    assert statuses == {404}
    assert listing_after.json() == {"object": "list", "data": []}
