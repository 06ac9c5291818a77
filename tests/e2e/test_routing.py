"""The routing engine over real HTTP: retries, fallback, deadlines, cooldowns, guard, strategies.

A router process with aliases (`ROUTING_CONFIG`) runs in front of the scripted upstream; its DeepSeek
provider points at a port nothing listens on, so `deepseek/*` targets are refused connections.
"""

from __future__ import annotations

import asyncio
import collections
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest

from tests.support.openapi import assert_valid
from tests.support.processes import free_port, run_router

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ADMIN_KEY = "admin-e2e-key"
ROUTING_CONFIG = """
[routing]
max_attempts = 3
timeout = 20
backoff_initial = 0.05
backoff_max = 0.2
retry_after_cap = 2
failure_threshold = 3
cooldown = 1.0
rate_limit_cooldown = 0.2

[free]
fallback = ["openrouter/paid/tool"]

[models.retry-429]
targets = ["openrouter/fail-once"]
[models.retry-500]
targets = ["openrouter/error-once"]
[models.refused-then-ok]
targets = ["deepseek/anything", "openrouter/tool"]
[models.down-then-ok]
targets = ["openrouter/down", "openrouter/tool"]
[models.no-tools-then-ok]
targets = ["openrouter/no-tool-endpoints", "openrouter/tool"]
[models.too-long-then-ok]
targets = ["openrouter/context-too-long", "openrouter/tool"]
[models.all-down]
targets = ["openrouter/x/down", "deepseek/y"]
[models.all-limited]
targets = ["openrouter/a/rate-limited", "openrouter/b/rate-limited"]
[models.hung]
targets = ["openrouter/a/slow", "openrouter/b/slow"]
timeout = 1.5
[models.breaker]
targets = ["openrouter/switchable", "openrouter/tool"]
[models.guard-fallback]
targets = ["openrouter/bad-args", "openrouter/tool"]
[models.guard-schema]
targets = ["openrouter/schema-invalid", "openrouter/tool"]
[models.guard-retry]
targets = ["openrouter/bad-args-once"]
tool_call_guard = "retry"
[models.guard-off]
targets = ["openrouter/bad-args"]
tool_call_guard = "off"
[models.capable]
targets = ["openrouter/paid/notools", "openrouter/tool"]
[models.mid-stream]
targets = ["openrouter/mid-stream-error", "openrouter/tool"]
[models.weighted]
strategy = "weighted"
targets = [{ model = "openrouter/w/one", weight = 1 }, { model = "openrouter/w/three", weight = 3 }]
[models.latency]
strategy = "latency"
targets = ["openrouter/l/delay", "openrouter/l/fast"]
[models.least-busy]
strategy = "least-busy"
targets = ["openrouter/b1/delay", "openrouter/b2/delay"]
[models.limited]
targets = [{ model = "openrouter/c1/delay", max_concurrent = 1 }, "openrouter/c2/delay"]
[models.flaky]
targets = ["openrouter/f1/flaky", "openrouter/f2/flaky", "openrouter/f3/flaky"]
"""

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


@pytest.fixture(scope="module")
def routing_router(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory: Path = tmp_path_factory.mktemp("routing")
    config = directory / "llm-router.toml"
    config.write_text(ROUTING_CONFIG, encoding="utf-8")
    env = {
        "OPENROUTER_API_KEY": "sk-or-routing",
        "OPENROUTER_BASE_URL": upstream.base_url("openrouter"),
        "DEEPSEEK_API_KEY": "sk-ds-routing",
        "DEEPSEEK_BASE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY,
    }
    yield from run_router(directory, env, ("--config", str(config)))


def ask(
    router: RouterProcess, model: str, *, tools: bool = True, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    payload: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": f"case {uuid.uuid4()}"}]}
    if tools:
        payload["tools"] = [WEATHER]
    payload.update(body)
    return httpx.post(f"{router.base_url}/chat/completions", json=payload, headers=headers, timeout=30)


def served_by(response: httpx.Response) -> tuple[str, int]:
    return response.headers["x-llm-router-target"], int(response.headers["x-llm-router-attempts"])


def sent_to(upstream: Upstream, response_marker: str) -> list[str]:
    return [r.body["model"] for r in upstream.received if r.marker == response_marker]


def marker_of(response: httpx.Response) -> str:
    return response.request.read().decode().split('"content":"', 1)[1].split('"', 1)[0]


# -------------------------------------------------------------------------------------- retries, fallback


def test_429_then_success_is_retried_on_the_same_target(routing_router: RouterProcess, upstream: Upstream) -> None:
    started = time.monotonic()
    response = ask(routing_router, "retry-429")

    assert response.status_code == 200, response.text
    assert served_by(response) == ("openrouter/fail-once", 2)
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    assert sent_to(upstream, marker_of(response)) == ["fail-once", "fail-once"]


def test_5xx_is_retried(routing_router: RouterProcess) -> None:
    response = ask(routing_router, "retry-500")

    assert response.status_code == 200
    assert served_by(response) == ("openrouter/error-once", 2)


@pytest.mark.parametrize(
    ("alias", "attempts"),
    [("refused-then-ok", 4), ("down-then-ok", 4), ("no-tools-then-ok", 2), ("too-long-then-ok", 2)],
)
def test_fallback_to_the_next_target(
    routing_router: RouterProcess, upstream: Upstream, alias: str, attempts: int
) -> None:
    response = ask(routing_router, alias)

    assert response.status_code == 200, response.text
    assert_valid(response.json(), "CreateChatCompletionResponse")
    # Transient failures use every attempt first; a target that cannot serve the request is left at once.
    assert served_by(response) == ("openrouter/tool", attempts)


def test_a_refused_connection_is_a_502_not_a_timeout(routing_router: RouterProcess) -> None:
    response = ask(routing_router, "deepseek/refused", headers={"x-llm-router-max-attempts": "1"})

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_connection_error"


def test_all_targets_failing_gives_one_error_listing_what_was_tried(routing_router: RouterProcess) -> None:
    response = ask(routing_router, "all-down")

    assert response.status_code == 503
    body = response.json()
    assert_valid(body, "ErrorResponse")
    message = body["error"]["message"]
    assert "openrouter/x/down" in message
    assert "deepseek/y" in message
    assert "sk-or-routing" not in response.text
    assert "sk-ds-routing" not in response.text


def test_all_targets_rate_limited_is_a_429_with_retry_after(routing_router: RouterProcess) -> None:
    response = ask(routing_router, "all-limited")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert_valid(response.json(), "ErrorResponse")


def test_hung_upstreams_end_at_the_deadline(routing_router: RouterProcess) -> None:
    started = time.monotonic()
    response = ask(routing_router, "hung")

    assert response.status_code == 504
    assert time.monotonic() - started < 4
    assert response.json()["error"]["code"] == "deadline_exceeded"


def test_per_request_overrides(routing_router: RouterProcess) -> None:
    no_retry = ask(routing_router, "retry-429", headers={"x-llm-router-max-attempts": "1"})
    short = ask(routing_router, "openrouter/slow", headers={"x-llm-router-timeout": "0.5"})
    invalid = ask(routing_router, "openrouter/tool", headers={"x-llm-router-timeout": "soon"})

    assert no_retry.status_code == 429
    assert short.status_code == 504
    assert invalid.status_code == 400
    assert invalid.json()["error"]["param"] == "x-llm-router-timeout"


def test_request_models_list_is_its_own_fallback(routing_router: RouterProcess, upstream: Upstream) -> None:
    response = ask(routing_router, "openrouter/down", models=["openrouter/tool"])

    assert response.status_code == 200
    assert served_by(response)[0] == "openrouter/tool"
    assert all("models" not in r.body for r in upstream.received if r.marker == marker_of(response))


# ------------------------------------------------------------------------------------------------ streams


def test_stream_falls_back_before_its_first_byte(routing_router: RouterProcess, upstream: Upstream) -> None:
    response = ask(routing_router, "down-then-ok", stream=True)

    assert response.status_code == 200
    assert served_by(response)[0] == "openrouter/tool"
    assert response.text.rstrip().endswith("data: [DONE]")


def test_stream_failing_after_its_first_byte_is_not_sent_elsewhere(
    routing_router: RouterProcess, upstream: Upstream
) -> None:
    response = ask(routing_router, "mid-stream", tools=False, stream=True)

    assert response.status_code == 200
    assert '"error"' in response.text
    assert "[DONE]" not in response.text
    assert sent_to(upstream, marker_of(response)) == ["mid-stream-error"]


# ---------------------------------------------------------------------------------------- circuit breaker


def admin(router: RouterProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    return httpx.request(method, f"{router.root_url}/admin/{path}", headers=headers, timeout=10, **kwargs)


def circuit(router: RouterProcess, target: str) -> dict[str, Any]:
    states: dict[str, dict[str, Any]] = {
        entry["target"]: entry for entry in admin(router, "GET", "targets").json()["data"]
    }
    return states.get(target, {"state": "closed"})


def test_cooldown_opens_and_closes(routing_router: RouterProcess, upstream: Upstream) -> None:
    upstream.switched_down = True
    try:
        first = ask(routing_router, "breaker")  # three failures in a row open the circuit
        assert served_by(first) == ("openrouter/tool", 4)
        assert circuit(routing_router, "openrouter/switchable")["state"] == "open"

        skipped = ask(routing_router, "breaker")
        assert served_by(skipped) == ("openrouter/tool", 1)
        assert sent_to(upstream, marker_of(skipped)) == ["tool"]
    finally:
        upstream.switched_down = False

    time.sleep(1.1)  # the cooldown passes: the next request is the probe, and it succeeds
    probe = ask(routing_router, "breaker")
    assert served_by(probe) == ("openrouter/switchable", 1)
    assert circuit(routing_router, "openrouter/switchable")["state"] == "closed"


def test_admin_endpoints_need_the_admin_key_and_can_reset(routing_router: RouterProcess) -> None:
    denied = httpx.get(f"{routing_router.root_url}/admin/targets", timeout=10)
    wrong = httpx.get(f"{routing_router.root_url}/admin/targets", headers={"authorization": "Bearer no"}, timeout=10)
    ask(routing_router, "retry-500")
    listing = admin(routing_router, "GET", "targets").json()["data"]
    reset = admin(routing_router, "POST", "targets/reset", json={"target": "openrouter/error-once"})

    assert denied.status_code == 401
    assert wrong.status_code == 403
    entry = next(e for e in listing if e["target"] == "openrouter/error-once")
    assert set(entry) >= {"state", "in_flight", "latency_ms", "success_rate", "consecutive_failures"}
    assert reset.status_code == 200
    assert all(e["target"] != "openrouter/error-once" for e in admin(routing_router, "GET", "targets").json()["data"])


# ----------------------------------------------------------------------------------------- tool-call guard


@pytest.mark.parametrize(
    ("alias", "served"),
    [
        ("guard-fallback", ("openrouter/tool", 2)),
        ("guard-schema", ("openrouter/tool", 2)),
        ("guard-retry", ("openrouter/bad-args-once", 2)),
    ],
)
def test_tool_call_guard_turns_bad_arguments_into_another_attempt(
    routing_router: RouterProcess, alias: str, served: tuple[str, int]
) -> None:
    response = ask(routing_router, alias)

    assert response.status_code == 200
    assert served_by(response) == served
    call = response.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["arguments"] == '{"location": "Paris, France", "unit": "celsius"}'


def test_tool_call_guard_off_passes_bad_arguments_through(routing_router: RouterProcess) -> None:
    response = ask(routing_router, "guard-off")

    assert response.status_code == 200
    assert (
        response.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"location": "Paris", '
    )


# ------------------------------------------------------------------------------------ capabilities, free


def test_requests_with_tools_skip_targets_without_tool_support(routing_router: RouterProcess) -> None:
    with_tools = ask(routing_router, "capable")
    without = ask(routing_router, "capable", tools=False)

    assert served_by(with_tools)[0] == "openrouter/tool"
    assert served_by(without)[0] == "openrouter/paid/notools"


def test_aliases_are_listed(routing_router: RouterProcess) -> None:
    ids = [model["id"] for model in httpx.get(f"{routing_router.base_url}/models", timeout=10).json()["data"]]

    assert {"retry-429", "weighted", "free"} <= set(ids)
    assert "openrouter/free/tool:free" in ids


def test_free_alias_uses_capable_free_models_and_backs_off_together_on_429(
    routing_router: RouterProcess, upstream: Upstream
) -> None:
    served: list[str] = []
    for _ in range(20):
        response = ask(routing_router, "free")
        assert response.status_code == 200, response.text
        served.append(served_by(response)[0])
        if any(
            r.body["model"] == "free/rate-limited:free" for r in upstream.received if r.marker == marker_of(response)
        ):
            break
    else:
        pytest.fail("the free alias never tried the rate-limited free model")

    tried = {r.body["model"] for r in upstream.received if r.body.get("model", "").endswith(":free")}
    assert "free/notools:free" not in tried  # the request has tools
    assert "free/tiny:free" not in tried  # its context is too short
    # OpenRouter's free quota is per account: after a 429 every free model waits, and the fallback answers.
    after = ask(routing_router, "free")
    assert served_by(after) == ("openrouter/paid/tool", 1)
    assert sent_to(upstream, marker_of(after)) == ["paid/tool"]


# ------------------------------------------------------------------------------------------------ strategies


def test_priority_strategy_uses_the_first_healthy_target(routing_router: RouterProcess) -> None:
    assert served_by(ask(routing_router, "down-then-ok"))[0] == "openrouter/tool"
    assert served_by(ask(routing_router, "capable", tools=False))[0] == "openrouter/paid/notools"


def test_weighted_strategy_follows_the_weights(routing_router: RouterProcess) -> None:
    counts = collections.Counter(served_by(ask(routing_router, "weighted"))[0] for _ in range(60))

    assert counts["openrouter/w/three"] > counts["openrouter/w/one"] > 0


def test_latency_strategy_prefers_the_faster_target(routing_router: RouterProcess) -> None:
    for _ in range(3):  # each target gets measured
        ask(routing_router, "latency")
    counts = collections.Counter(served_by(ask(routing_router, "latency"))[0] for _ in range(5))

    assert counts["openrouter/l/fast"] == 5


async def test_least_busy_and_concurrency_limits_spread_concurrent_requests(routing_router: RouterProcess) -> None:
    async with httpx.AsyncClient(timeout=30) as client:

        async def send(model: str) -> str:
            body = {"model": model, "messages": [{"role": "user", "content": str(uuid.uuid4())}]}
            response = await client.post(f"{routing_router.base_url}/chat/completions", json=body)
            return response.headers["x-llm-router-target"]

        least_busy = await asyncio.gather(send("least-busy"), send("least-busy"))
        limited = await asyncio.gather(send("limited"), send("limited"))

    assert sorted(least_busy) == ["openrouter/b1/delay", "openrouter/b2/delay"]
    assert sorted(limited) == ["openrouter/c1/delay", "openrouter/c2/delay"]


# ----------------------------------------------------------------------------------------------- concurrency


async def test_200_concurrent_requests_with_30_percent_failures_all_succeed(
    routing_router: RouterProcess, upstream: Upstream
) -> None:
    markers = [f"load {n} {uuid.uuid4()}" for n in range(200)]

    async def send(client: httpx.AsyncClient, marker: str, stream: bool) -> None:
        body = {"model": "flaky", "stream": stream, "messages": [{"role": "user", "content": marker}]}
        async with client.stream("POST", f"{routing_router.base_url}/chat/completions", json=body) as response:
            text = (await response.aread()).decode()
        assert response.status_code == 200, text
        if stream:
            assert text.rstrip().endswith("data: [DONE]"), text
            assert '"error"' not in text

    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(send(client, marker, n % 2 == 0) for n, marker in enumerate(markers)))

    attempts = [r for r in upstream.received if r.marker in set(markers)]
    failed = [r for r in attempts if r.outcome != "ok"]
    assert len(failed) >= 0.2 * len(attempts)  # the upstream really did fail about 30% of attempts
    by_marker = collections.defaultdict(list)
    for received in attempts:
        by_marker[received.marker].append(received.outcome)
    for outcomes in by_marker.values():
        # Exactly one attempt was answered, and it was the last one: nothing was sent after a stream started.
        assert outcomes.count("ok") == 1
        assert outcomes[-1] == "ok"


# --------------------------------------------------------------------------- errors that say what happened


def attempts_logged(router: RouterProcess, request_id: str) -> int:
    """The attempts the request log line of `request_id` reports (written as the response ends)."""
    pattern = re.compile(rf"request_id={re.escape(request_id)} .*attempts=(\d+)")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if found := pattern.search(router.logs()):
            return int(found[1])
        time.sleep(0.02)
    raise AssertionError(f"no request log line for {request_id}")


def test_a_scripted_failure_model_is_the_same_failure_every_time_through_the_openai_sdk(
    routing_router: RouterProcess,
) -> None:
    # The SDK sends each call up to three times; with failure_threshold 3, three of its calls would have
    # opened the mock's circuit many times over, if its scripted failures counted against its health.
    with openai.OpenAI(base_url=routing_router.base_url, api_key="unused", max_retries=2) as sdk:
        for call in range(3):
            request_id = f"scripted-{call}-{uuid.uuid4().hex}"
            with pytest.raises(openai.InternalServerError) as raised:
                sdk.chat.completions.create(
                    model="mock/server-error",
                    messages=[{"role": "user", "content": "hi"}],
                    extra_headers={"x-request-id": request_id},
                )

            assert raised.value.status_code == 502
            assert raised.value.body == {
                "message": "The mock upstream answered 500 (server-error).",
                "type": "server_error",
                "param": None,
                "code": "upstream_error",
            }
            assert attempts_logged(routing_router, request_id) == 3  # `max_attempts`, every time
    assert circuit(routing_router, "mock/server-error")["state"] == "closed"


def test_errors_say_whether_a_target_was_tried_and_why_not(routing_router: RouterProcess) -> None:
    target = f"openrouter/says-{uuid.uuid4().hex[:8]}/down"
    short = {"x-llm-router-timeout": "0.5"}  # shorter than the 1 s cooldown: no waiting for the circuit

    failed = ask(routing_router, target, headers={"x-request-id": "opened-" + uuid.uuid4().hex})
    skipped = ask(routing_router, target, headers={**short, "x-request-id": "skipped-" + uuid.uuid4().hex})

    # Three attempts failed (and the third opened the circuit): the client hears the upstream's failure.
    assert failed.status_code == 503
    assert failed.json()["error"]["message"] == "openrouter answered 503: No available provider"
    assert attempts_logged(routing_router, failed.headers["x-request-id"]) == 3
    # The next request did not try it, and says so, and why.
    error = skipped.json()["error"]
    assert (skipped.status_code, error["code"]) == (503, "target_unavailable")
    assert error["message"].startswith(f"{target} was not tried: its circuit is open after 3 failures in a row")
    assert attempts_logged(routing_router, skipped.headers["x-request-id"]) == 0

    time.sleep(1.1)  # the cooldown passes: the next request's first attempt is the probe, and it fails
    probed = ask(
        routing_router,
        target,
        headers={**short, "x-llm-router-max-attempts": "2", "x-request-id": "probed-" + uuid.uuid4().hex},
    )

    # The failed probe reopened the circuit, so its second attempt was not made: the client hears the probe's
    # failure, not that the target was not tried.
    assert probed.status_code == 503
    assert probed.json()["error"]["message"] == "openrouter answered 503: No available provider"
    assert attempts_logged(routing_router, probed.headers["x-request-id"]) == 1
