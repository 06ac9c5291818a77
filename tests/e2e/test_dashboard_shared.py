"""What the dashboard shows when several processes serve: two instances sharing a real Redis, and one instance
with two workers and no Redis. Whichever process a dashboard reaches, it shows every process's requests,
their traffic and the targets' last errors; and an open dashboard never holds up a shutdown."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.processes import free_port, run_router

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.support.processes import RouterProcess
    from tests.support.redis import RedisServer

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-e2e-dashboard-shared-0123456789"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
CONFIG = """
[dashboard]
update_interval = 0.2
share_interval = 0.1

[routing]
max_attempts = 1
failure_threshold = 1
cooldown = 600

[models.shaky]
targets = ["deepseek/down", "mock/text"]
"""
DEADLINE = 15.0


def environment(**extra: str) -> dict[str, str]:
    return {
        "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY,
        # Nothing listens there: `deepseek/down` fails, and the alias falls back to the mock.
        "DEEPSEEK_API_KEY": "sk-ds-dashboard-shared",
        "DEEPSEEK_BASE_URL": f"http://127.0.0.1:{free_port()}",
        **extra,
    }


def chat(router: RouterProcess, request_id: str, model: str = "mock/text") -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
    # A new connection each time, so that several workers share the requests between them.
    return httpx.post(
        f"{router.base_url}/chat/completions", json=body, headers={"x-request-id": request_id}, timeout=10
    )


def admin(router: RouterProcess, path: str) -> Any:
    response = httpx.get(f"{router.root_url}{path}", headers=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def eventually(check: Callable[[], Any], what: str) -> Any:
    """The first true result of `check`, asked again until the deadline (the processes share in batches)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE} s: {what}")
        time.sleep(0.05)


def listed_ids(router: RouterProcess) -> set[str]:
    return {record["id"] for record in admin(router, "/admin/requests?limit=1000")["data"]}


class StreamReader(threading.Thread):
    """The dashboard's stream, read on a thread of its own until it ends: its events, by name."""

    def __init__(self, router: RouterProcess) -> None:
        super().__init__(daemon=True)
        self.url = f"{router.root_url}/admin/stream"
        self.events: list[tuple[str, Any]] = []
        self.opened = threading.Event()
        self.ended_cleanly = False
        self.start()

    def run(self) -> None:
        name = "message"
        with httpx.stream("GET", self.url, headers=ADMIN, timeout=30) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line.removeprefix("data: "))))
                    self.opened.set()
        self.ended_cleanly = True

    def records(self) -> set[str]:
        return {record["id"] for name, payload in list(self.events) if name == "requests" for record in payload["data"]}


# ------------------------------------------------------------------------------------ through Redis


@pytest.fixture(scope="module")
def instances(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RouterProcess, RouterProcess]]:
    directory = tmp_path_factory.mktemp("dashboard-instances")
    config = directory / "llm-router.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = environment(REDIS_URL=redis_server.url)
    start = contextlib.contextmanager(run_router)
    with (
        start(directory, env, ("--config", str(config))) as one,
        start(directory, env, ("--config", str(config))) as two,
    ):
        yield one, two


def test_a_request_to_one_instance_shows_on_the_other_s_dashboard(
    instances: tuple[RouterProcess, RouterProcess],
) -> None:
    one, two = instances
    stream = StreamReader(two)
    assert stream.opened.wait(10)

    assert chat(one, "redis-shared-1").status_code == 200

    eventually(lambda: "redis-shared-1" in stream.records(), "the request in the other instance's stream")
    assert "redis-shared-1" in listed_ids(two)
    overview = eventually(
        lambda: (found := admin(two, "/admin/overview"))["requests"] >= 1 and found, "the request counted"
    )
    assert overview["redis"] == "up"
    assert overview["instance"] != admin(one, "/admin/overview")["instance"]


def test_a_target_s_error_on_one_instance_explains_it_on_the_other_until_reset(
    instances: tuple[RouterProcess, RouterProcess],
) -> None:
    one, two = instances
    assert chat(one, "redis-shaky-1", model="shaky").headers["x-llm-router-target"] == "mock/text"

    def error_on_two() -> Any:
        targets = {target["target"]: target for target in admin(two, "/admin/overview")["targets"]}
        down = targets.get("deepseek/down")
        return down is not None and down["last_error"] is not None and down

    down = eventually(error_on_two, "deepseek/down's error on the other instance")
    assert down["state"] == "open"
    assert "Could not reach deepseek" in down["last_error"]["message"]

    httpx.post(f"{two.root_url}/admin/targets/reset", json={"target": "deepseek/down"}, headers=ADMIN, timeout=10)

    targets = {target["target"]: target for target in admin(one, "/admin/overview")["targets"]}
    assert "deepseek/down" not in targets


# ------------------------------------------------------------------------------ two workers, no Redis


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("dashboard-workers")
    config = directory / "llm-router.toml"
    config.write_text(CONFIG, encoding="utf-8")
    yield from run_router(directory, environment(), ("--config", str(config), "--workers", "2"))


def test_every_worker_s_dashboard_shows_every_worker_s_requests(two_workers: RouterProcess) -> None:
    router = two_workers
    ids = [f"workers-{number}" for number in range(40)]
    # Several at once, each on a connection of its own: both workers take some.
    with ThreadPoolExecutor(8) as pool:
        assert {response.status_code for response in pool.map(lambda each: chat(router, each), ids)} == {200}

    def every_request_listed() -> dict[str, str]:
        records = admin(router, "/admin/requests?limit=1000")["data"]
        found = {record["id"]: record["instance"] for record in records if record["id"] in ids}
        return found if len(found) == len(ids) else {}

    served_by = eventually(every_request_listed, "every request listed")
    assert len(set(served_by.values())) == 2, "one worker served every request"
    listed_by: set[str] = set()
    for _ in range(20):  # new connections: each answer comes from either worker
        overview = admin(router, "/admin/overview")
        listed_by.add(overview["instance"])
        assert overview["requests"] >= len(ids)
        assert set(ids) <= listed_ids(router)
    assert listed_by == set(served_by.values())


# ------------------------------------------------------------------------------------------ shutdown


def test_an_open_dashboard_does_not_hold_up_a_shutdown(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("dashboard-shutdown")
    for router in run_router(directory, environment(LLM_ROUTER_SHUTDOWN_TIMEOUT="20")):
        stream = StreamReader(router)
        assert stream.opened.wait(10)

        sent = time.monotonic()
        os.killpg(router.process.pid, signal.SIGTERM)
        exit_code = router.process.wait(30)
        stopped_after = time.monotonic() - sent
        stream.join(5)

        assert exit_code == 0
        assert stopped_after < 5, stopped_after
        assert stream.ended_cleanly
