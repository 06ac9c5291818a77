"""The HTTP API fuzzed from its own OpenAPI description (`app/openapi.yaml`) with schemathesis.

A real router serves the mock provider. Schemathesis generates requests for every operation, valid and
not; request bodies naming a model are steered to the mock's answering scenarios, so generated messages,
tools and schemas reach routing, the mock's argument builder and normalisation instead of stopping at
"unknown model". The router may refuse anything, but only ever with a 4xx (or an upstream's 5xx) in OpenAI's
envelope (Anthropic's on the Messages API): never a 500, which would mean it failed to handle the request.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import hypothesis
import pytest
import schemathesis
import yaml

from app import __version__
from tests.support.anthropic import assert_anthropic_error
from tests.support.openapi import assert_valid
from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from schemathesis.schemas import BaseSchema
    from schemathesis.specs.openapi.schemas import OpenApiCase

    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

DESCRIPTION = Path(__file__).resolve().parents[2] / "app" / "openapi.yaml"
ADMIN_KEY = "admin-e2e-fuzz-0123456789"
SCENARIOS = ("mock/text", "mock/tool", "mock/parallel", "mock/noargs")
# Short deadlines and no waiting, so that requests for slow or failing scenarios end at once.
CONFIG = """
[routing]
timeout = 2
backoff_initial = 0.01
backoff_max = 0.02
retry_after_cap = 0
"""


@pytest.fixture(scope="module")
def fuzzed_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("fuzz")
    config = directory / "llm-router.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {"MOCK_SLOW_SECONDS": "0.01", "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY}
    yield from run_router(directory, env, ("--config", str(config)))


# Loaded from the file (the same one the router serves: see the test below) when the module is collected,
# because schemathesis parametrizes tests at collection time.
# The dashboard's stream never ends by itself (it is read by the dashboard's own tests instead).
api: BaseSchema = schemathesis.openapi.from_path(DESCRIPTION).exclude(path="/admin/stream")


def test_the_router_serves_this_description(fuzzed_router: RouterProcess) -> None:
    served = httpx.get(f"{fuzzed_router.root_url}/openapi.json", timeout=10).json()
    written = yaml.safe_load(DESCRIPTION.read_text(encoding="utf-8"))

    assert served["info"].pop("version") == __version__
    written["info"].pop("version")
    assert served == written


@api.parametrize()
@hypothesis.settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_request_makes_the_router_fail(case: OpenApiCase, fuzzed_router: RouterProcess) -> None:
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        # The same body always gets the same scenario, so a failure replays.
        digest = hashlib.sha256(repr(sorted(body.items(), key=str)).encode()).digest()
        body["model"] = SCENARIOS[digest[0] % len(SCENARIOS)]

    response = case.call(base_url=fuzzed_router.root_url, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)

    assert response.status_code != 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if response.status_code >= 400:
        error: Any = response.json()
        if case.path.startswith("/v1/messages"):
            assert_anthropic_error(error)
        else:
            assert_valid(error, "ErrorResponse")
