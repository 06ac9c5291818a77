"""A Redis that goes away while requests are in flight and comes back with its data (it persists every write):
the slots those requests held come back within seconds, and the router falls back to local state once."""

from __future__ import annotations

import concurrent.futures
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.processes import run_router
from tests.support.redis import RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-e2e-outage-0123456789"
SLOW_SECONDS = 2.0
IN_FLIGHT = 6
# Leases far longer than the test: only the releases the router sends again can free the slots in time.
CONFIG = f"""
[redis]
recheck_interval = 0.2
lease_ttl = 60
lease_renew_interval = 0.5

[providers.mock]
slow_seconds = {SLOW_SECONDS}
"""


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("outage-redis"), persistent=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def router(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("outage")
    config = directory / "llm-router.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {"REDIS_URL": redis_server.url, "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY}
    yield from run_router(directory, env, ("--config", str(config)))


def chat(router: RouterProcess, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
    return httpx.post(f"{router.base_url}/chat/completions", json=body, timeout=30).status_code


def in_flight(router: RouterProcess, target: str) -> int:
    listing = httpx.get(
        f"{router.root_url}/admin/targets", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    ).json()
    return next((entry["in_flight"] for entry in listing["data"] if entry["target"] == target), 0)


def ready(router: RouterProcess) -> str:
    status: str = httpx.get(f"{router.root_url}/ready", timeout=10).json()["status"]
    return status


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` holds (polled), failing the test past `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "the condition did not hold in time"
        time.sleep(0.05)
    return time.monotonic() - started


def test_slots_held_through_a_redis_outage_come_back_and_recovery_is_one_switch(
    router: RouterProcess, redis_server: RedisServer
) -> None:
    assert ready(router) == "ready"
    with concurrent.futures.ThreadPoolExecutor(IN_FLIGHT) as pool:
        requests = [pool.submit(chat, router, "mock/slow") for _ in range(IN_FLIGHT)]
        wait_until(lambda: in_flight(router, "mock/slow") == IN_FLIGHT, timeout=SLOW_SECONDS)
        redis_server.stop()  # the requests end while it is gone: their releases cannot reach it
        try:
            assert [request.result() for request in requests] == [200] * IN_FLIGHT
        finally:
            redis_server.start()

    wait_until(lambda: ready(router) == "ready", timeout=10)
    freed_in = wait_until(lambda: in_flight(router, "mock/slow") == 0, timeout=10)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        after = list(pool.map(lambda _: chat(router, "mock/text"), range(16)))

    assert freed_in < 3
    assert after == [200] * 16
    assert ready(router) == "ready"
    logs = router.logs()
    assert logs.count("Redis became unreachable") == 1
    assert logs.count("Redis is reachable again") == 1
