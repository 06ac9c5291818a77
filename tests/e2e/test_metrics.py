"""`GET /metrics` from a real router process: scraped and parsed after a known sequence of requests."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.access import hash_key
from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

KEY = "sk-llmr-e2e-metrics-0123456789"
CHAT = "/v1/chat/completions"
CONFIG = f"""
[routing]
max_attempts = 1
failure_threshold = 2
cooldown = 60

[models.shaky]
targets = ["openrouter/metrics/server-error", "mock/text"]

[keys.dashboards]
sha256 = "{hash_key(KEY)}"
"""
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def write_config(directory: Path) -> Path:
    config = directory / "llm-router.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def metered_router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("metrics")
    env = {"OPENROUTER_API_KEY": "sk-or-metrics", "OPENROUTER_BASE_URL": upstream.base_url("openrouter")}
    yield from run_router(directory, env, ("--config", str(write_config(directory))))


def chat(router: RouterProcess, model: str, **body: Any) -> httpx.Response:
    payload = {"model": model, "messages": [{"role": "user", "content": "Weather in 'Paris'"}], **body}
    return httpx.post(router.root_url + CHAT, json=payload, headers={"authorization": f"Bearer {KEY}"}, timeout=10)


def scrape(router: RouterProcess) -> Samples:
    response = httpx.get(f"{router.root_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_known_sequence_of_requests_is_counted(metered_router: RouterProcess) -> None:
    statuses = [
        chat(metered_router, "mock/text").status_code,
        chat(metered_router, "mock/text").status_code,
        chat(metered_router, "mock/text", stream=True).status_code,
        chat(metered_router, "mock/tool", tools=[WEATHER]).status_code,
        chat(metered_router, "mock/rate-limited").status_code,
        chat(metered_router, "mock/server-error").status_code,
        chat(metered_router, "shaky").status_code,  # the upstream's server-error fails, text answers
        chat(metered_router, "shaky").status_code,  # it fails again (its circuit opens), text answers
    ]
    assert statuses == [200, 200, 200, 200, 429, 502, 200, 200]

    samples = scrape(metered_router)

    def requests(model: str, status: str) -> float:
        return value(samples, "llm_router_requests_total", route=CHAT, model=model, status=status)

    assert requests("mock/text", "200") == 3
    assert requests("mock/tool", "200") == 1
    assert requests("mock/rate-limited", "429") == 1
    assert requests("mock/server-error", "502") == 1
    assert requests("shaky", "200") == 2
    assert value(samples, "llm_router_request_duration_seconds_count", route=CHAT) == 8

    def attempts(target: str, outcome: str) -> float:
        return value(samples, "llm_router_upstream_attempts_total", target=target, outcome=outcome)

    assert attempts("mock/text", "success") == 5
    assert attempts("mock/tool", "success") == 1
    assert attempts("mock/rate-limited", "rate_limited") == 1
    assert attempts("mock/server-error", "failure") == 1
    assert attempts("openrouter/metrics/server-error", "failure") == 2
    assert value(samples, "llm_router_upstream_attempt_duration_seconds_count", target="mock/text") == 5
    assert value(samples, "llm_router_fallbacks_total", model="shaky", target="openrouter/metrics/server-error") == 2
    assert value(samples, "llm_router_circuit_state", target="openrouter/metrics/server-error") == 2  # open
    assert value(samples, "llm_router_circuit_state", target="mock/text") == 0
    # The mock's failures are scripted: they never open its circuit.
    assert value(samples, "llm_router_circuit_state", target="mock/server-error") == 0

    assert value(samples, "llm_router_tool_calls_total", model="mock/tool", key="dashboards") == 1
    # The mock counts a token per word: three words asked, five times over, on mock/text.
    assert value(samples, "llm_router_tokens_total", model="mock/text", key="dashboards", direction="in") == 15
    assert value(samples, "llm_router_tokens_total", model="mock/text", key="dashboards", direction="out") > 0
    assert ("llm_router_redis_up", ()) not in samples  # no Redis configured


def test_streams_in_flight_are_counted_while_they_last(metered_router: RouterProcess) -> None:
    body = {
        "model": "openrouter/x/hang",  # the scripted upstream sends one chunk, then waits for the client to leave
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }
    headers = {"authorization": f"Bearer {KEY}"}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", metered_router.root_url + CHAT, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()  # kept: a generator collected half-read would close the response
        next(lines)
        during = value(scrape(metered_router), "llm_router_streams_in_flight", route=CHAT)
    after = during
    for _ in range(100):  # the router notices the client has gone within a moment
        after = value(scrape(metered_router), "llm_router_streams_in_flight", route=CHAT)
        if after == 0:
            break
        time.sleep(0.02)

    assert during == 1
    assert after == 0


def test_several_workers_add_up(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("metrics-workers")
    args = ("--config", str(write_config(directory)), "--workers", "2")
    for router in run_router(directory, {}, args):
        for _ in range(12):
            assert chat(router, "mock/text").status_code == 200
        # Each scrape lands on either worker; every one sees both workers' counts.
        counts = {
            value(scrape(router), "llm_router_requests_total", route=CHAT, model="mock/text", status="200")
            for _ in range(4)
        }
        assert counts == {12}
