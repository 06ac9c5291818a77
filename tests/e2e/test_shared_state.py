"""Two router instances sharing rate limits and target health through a real Redis, which then goes away
and comes back. The tests run in order: each leaves the shared state the next one starts from."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.access import hash_key
from tests.support.processes import free_port, run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.processes import RouterProcess
    from tests.support.redis import RedisServer

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-e2e-shared-0123456789"
TEAM_KEY = "sk-llmr-e2e-team-0123456789"
OPS_KEY = "sk-llmr-e2e-ops-shared-0123456789"
LATER_KEY = "sk-llmr-e2e-later-0123456789"
CONFIG = f"""
[routing]
max_attempts = 1
failure_threshold = 2
cooldown = 60

[redis]
recheck_interval = 0.2

[models.shaky]
targets = ["deepseek/down", "mock/text"]

[keys.team]
sha256 = "{hash_key(TEAM_KEY)}"
requests_per_minute = 4

[keys.ops]
sha256 = "{hash_key(OPS_KEY)}"

[keys.later]
sha256 = "{hash_key(LATER_KEY)}"
requests_per_minute = 2
"""


@pytest.fixture(scope="module")
def routers(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RouterProcess, RouterProcess]]:
    directory = tmp_path_factory.mktemp("shared")
    config = directory / "llm-router.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {
        "REDIS_URL": redis_server.url,
        "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY,
        # Nothing listens there, so `deepseek/*` fails: the mock's scripted failures never open a circuit.
        "DEEPSEEK_API_KEY": "sk-ds-shared",
        "DEEPSEEK_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    start = contextlib.contextmanager(run_router)
    with (
        start(directory, env, ("--config", str(config))) as one,
        start(directory, env, ("--config", str(config))) as two,
    ):
        yield one, two


def chat(router: RouterProcess, key: str, model: str = "mock/text") -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
    return httpx.post(
        f"{router.base_url}/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=10
    )


def circuit(router: RouterProcess, target: str) -> str:
    listing = httpx.get(
        f"{router.root_url}/admin/targets", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    ).json()
    states: dict[str, str] = {entry["target"]: entry["state"] for entry in listing["data"]}
    return states.get(target, "closed")


def ready(router: RouterProcess) -> dict[str, str]:
    body: dict[str, str] = httpx.get(f"{router.root_url}/ready", timeout=10).json()
    return body


def redis_up(router: RouterProcess) -> float:
    text = httpx.get(f"{router.root_url}/metrics", timeout=10).text
    (family,) = [family for family in text_string_to_metric_families(text) if family.name == "llm_router_redis_up"]
    return family.samples[0].value


def test_both_instances_count_against_one_rate_limit(routers: tuple[RouterProcess, RouterProcess]) -> None:
    one, two = routers
    assert ready(one) == ready(two) == {"status": "ready", "redis": "up"}

    statuses = [chat(router, TEAM_KEY).status_code for router in (one, two, one, two, one, two)]

    assert statuses == [200, 200, 200, 200, 429, 429]


def test_a_circuit_opened_by_failures_on_both_instances_is_open_on_both(
    routers: tuple[RouterProcess, RouterProcess],
) -> None:
    one, two = routers

    # Each instance sees one failure of deepseek/down (the alias then falls back): two make the threshold.
    assert chat(one, OPS_KEY, "shaky").headers["x-llm-router-target"] == "mock/text"
    assert circuit(one, "deepseek/down") == "closed"
    assert chat(two, OPS_KEY, "shaky").headers["x-llm-router-target"] == "mock/text"

    assert circuit(one, "deepseek/down") == "open"
    assert circuit(two, "deepseek/down") == "open"
    skipped = chat(one, OPS_KEY, "deepseek/down")
    assert skipped.status_code == 503
    assert skipped.json()["error"]["code"] == "target_unavailable"


def test_a_response_stored_on_one_instance_is_continued_on_the_other(
    routers: tuple[RouterProcess, RouterProcess],
) -> None:
    one, two = routers
    headers = {"authorization": f"Bearer {OPS_KEY}"}
    first = httpx.post(
        f"{one.base_url}/responses", json={"model": "mock/text", "input": "Hello"}, headers=headers, timeout=10
    )
    assert first.status_code == 200, first.text
    response_id = first.json()["id"]

    stored = httpx.get(f"{two.base_url}/responses/{response_id}", headers=headers, timeout=10)
    follow_up = httpx.post(
        f"{two.base_url}/responses",
        json={"model": "mock/text", "input": "And again", "previous_response_id": response_id},
        headers=headers,
        timeout=10,
    )

    assert stored.status_code == 200, stored.text
    assert stored.json()["id"] == response_id
    assert follow_up.status_code == 200, follow_up.text


def test_without_redis_the_instances_keep_serving_then_share_again(
    routers: tuple[RouterProcess, RouterProcess], redis_server: RedisServer
) -> None:
    one, two = routers
    redis_server.stop()
    try:
        for router in (one, two):
            assert chat(router, OPS_KEY).status_code == 200
            assert chat(router, OPS_KEY).status_code == 200
            assert ready(router) == {"status": "degraded", "redis": "down"}
            assert redis_up(router) == 0
    finally:
        redis_server.start()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(ready(router)["status"] == "ready" for router in (one, two)):
        time.sleep(0.1)
    assert ready(one) == ready(two) == {"status": "ready", "redis": "up"}
    assert redis_up(one) == redis_up(two) == 1

    statuses = [chat(router, LATER_KEY).status_code for router in (one, two, one)]
    assert statuses == [200, 200, 429]
    for router in (one, two):
        assert "Redis became unreachable" in router.logs()
        assert "Redis is reachable again" in router.logs()
