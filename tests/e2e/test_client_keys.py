"""Client keys, allowed models, rate limits and the request log, against a real router process.

The router runs with keys configured, JSON logs and provider keys it must never write anywhere; its log file
is read back at the end and searched for every secret.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest

from app.access import hash_key
from tests.support.openapi import assert_valid
from tests.support.processes import free_port, run_router

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

OPS_KEY = "sk-llmr-e2e-ops-0123456789"
N8N_KEY = "sk-llmr-e2e-n8n-0123456789"
BURST_KEY = "sk-llmr-e2e-burst-0123456789"
TIGHT_KEY = "sk-llmr-e2e-tight-0123456789"
ADMIN_KEY = "admin-e2e-keys-0123456789"
PROVIDER_KEY = "sk-or-v1-e2e-keys-provider-0123456789"
SECRETS = (OPS_KEY, N8N_KEY, BURST_KEY, TIGHT_KEY, ADMIN_KEY, PROVIDER_KEY)

CONFIG = f"""
log_format = "json"

[routing]
max_attempts = 1

[models.smart]
targets = ["mock/text"]

[keys.ops]
sha256 = "{hash_key(OPS_KEY)}"

[keys.n8n]
sha256 = "{hash_key(N8N_KEY)}"
models = ["mock/text", "smart"]

[keys.burst]
sha256 = "{hash_key(BURST_KEY)}"
requests_per_minute = 3

[keys.tight]
sha256 = "{hash_key(TIGHT_KEY)}"
tokens_per_minute = 60
"""


@pytest.fixture(scope="module")
def keyed_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory: Path = tmp_path_factory.mktemp("keys")
    config = directory / "llm-router.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {
        "OPENROUTER_API_KEY": PROVIDER_KEY,
        "OPENROUTER_BASE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: every attempt fails
        "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY,
    }
    yield from run_router(directory, env, ("--config", str(config)))


def chat(router: RouterProcess, key: str | None, model: str = "mock/text", **body: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    payload = {"model": model, "messages": [{"role": "user", "content": "Say 'hello'"}], **body}
    return httpx.post(f"{router.base_url}/chat/completions", json=payload, headers=headers, timeout=10)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


def test_requests_without_a_valid_key_get_401(keyed_router: RouterProcess) -> None:
    error_of(chat(keyed_router, None), 401, "invalid_api_key")
    error_of(chat(keyed_router, "sk-llmr-e2e-ops-0123456780"), 401, "invalid_api_key")
    error_of(httpx.get(f"{keyed_router.base_url}/models", timeout=10), 401, "invalid_api_key")
    error_of(httpx.post(f"{keyed_router.base_url}/responses", json={}, timeout=10), 401, "invalid_api_key")


def test_the_official_sdk_authenticates_with_its_api_key(keyed_router: RouterProcess) -> None:
    with openai.OpenAI(base_url=keyed_router.base_url, api_key=OPS_KEY, max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model="mock/text", messages=[{"role": "user", "content": "Hi"}])
        listed = [model.id for model in sdk.models.list()]
    with (
        openai.OpenAI(base_url=keyed_router.base_url, api_key="sk-wrong", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError),
    ):
        sdk.models.list()

    assert reply.choices[0].message.content
    assert "mock/tool" in listed


@pytest.mark.parametrize("header", ["api-key", "x-api-key"])
def test_other_sdk_key_headers_work_too(keyed_router: RouterProcess, header: str) -> None:
    response = httpx.get(f"{keyed_router.base_url}/models", headers={header: OPS_KEY}, timeout=10)

    assert response.status_code == 200


def test_a_key_reaches_only_its_models(keyed_router: RouterProcess) -> None:
    listed = httpx.get(
        f"{keyed_router.base_url}/models", headers={"authorization": f"Bearer {N8N_KEY}"}, timeout=10
    ).json()
    denied = chat(keyed_router, OPS_KEY, "mock/tool")  # ops may use anything: this one is allowed
    forbidden = chat(keyed_router, N8N_KEY, "mock/tool")

    assert {model["id"] for model in listed["data"]} == {"smart", "mock/text"}
    assert denied.status_code == 200
    assert error_of(forbidden, 403, "model_not_allowed")["param"] == "model"


def test_requests_per_minute_are_enforced_with_openai_headers(keyed_router: RouterProcess) -> None:
    listed = httpx.get(f"{keyed_router.base_url}/models", headers={"authorization": f"Bearer {BURST_KEY}"}, timeout=10)
    second = chat(keyed_router, BURST_KEY, "smart")
    third = chat(keyed_router, BURST_KEY, stream=True)
    refused = chat(keyed_router, BURST_KEY)

    assert listed.headers["x-ratelimit-remaining-requests"] == "2"
    assert second.status_code == 200
    assert second.headers["x-ratelimit-limit-requests"] == "3"
    assert second.headers["x-ratelimit-remaining-requests"] == "1"
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    error_of(refused, 429, "rate_limit_exceeded")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")


def test_tokens_per_minute_count_what_the_upstream_reported(keyed_router: RouterProcess) -> None:
    # The mock counts a token per word: a dozen for "Say 'hello'" and its answer, so 60 last about five requests.
    answered = [chat(keyed_router, TIGHT_KEY) for _ in range(8)]
    statuses = [response.status_code for response in answered]

    assert statuses[0] == 200
    assert answered[0].headers["x-ratelimit-limit-tokens"] == "60"
    assert 429 in statuses, statuses
    refused = answered[statuses.index(429)]
    assert error_of(refused, 429, "rate_limit_exceeded")["message"].startswith(
        "Rate limit reached for this API key on tokens per minute"
    )
    assert statuses.index(429) >= 3
    assert int(refused.headers["x-ratelimit-remaining-tokens"]) < 12


def test_health_readiness_and_local_metrics_need_no_client_key(keyed_router: RouterProcess) -> None:
    assert httpx.get(f"{keyed_router.root_url}/health", timeout=10).status_code == 200
    assert httpx.get(f"{keyed_router.root_url}/ready", timeout=10).json() == {"status": "ready"}
    assert httpx.get(f"{keyed_router.root_url}/metrics", timeout=10).status_code == 200
    assert httpx.get(f"{keyed_router.root_url}/openapi.json", timeout=10).status_code == 200


def test_the_request_id_comes_back(keyed_router: RouterProcess) -> None:
    response = chat(keyed_router, OPS_KEY)
    mine = httpx.get(
        f"{keyed_router.base_url}/models",
        headers={"authorization": f"Bearer {OPS_KEY}", "x-request-id": "trace-1234"},
        timeout=10,
    )

    assert len(response.headers["x-request-id"]) == 32
    assert mine.headers["x-request-id"] == "trace-1234"


def test_one_json_line_per_request_and_no_secret_anywhere_in_the_log(keyed_router: RouterProcess) -> None:
    failed = chat(keyed_router, OPS_KEY, "openrouter/some/model")  # the upstream is down: logged as a failure
    assert failed.status_code >= 500
    marker = httpx.get(
        f"{keyed_router.base_url}/models",
        headers={"authorization": f"Bearer {OPS_KEY}", "x-request-id": "find-me-in-the-log"},
        timeout=10,
    )
    assert marker.status_code == 200

    text = keyed_router.logs()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [entry for entry in entries if entry["logger"] == "llm_router.requests"]
    (found,) = [entry for entry in requests if entry["request_id"] == "find-me-in-the-log"]
    (upstream_down,) = [entry for entry in requests if entry.get("model") == "openrouter/some/model"]
    for secret in SECRETS:
        assert secret not in text, f"{secret} is in the router's log"
    assert found["key"] == "ops"
    assert found["status"] == 200
    assert found["path"] == "/v1/models"
    assert isinstance(found["duration_ms"], float)
    assert upstream_down["status"] == failed.status_code
    # The warning logged while serving it carries the same request id.
    assert any(
        entry["logger"] == "app.errors" and entry.get("request_id") == failed.headers["x-request-id"]
        for entry in entries
    )
    assert upstream_down["attempts"] == 1
    assert upstream_down["target"] is None
    assert any(
        entry["key"] == "burst" and entry["rate_limited"] == "requests" for entry in requests if "rate_limited" in entry
    )
    assert not any(entry["logger"] == "httpx" for entry in entries)  # no per-attempt lines
