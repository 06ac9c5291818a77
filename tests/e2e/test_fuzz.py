"""The HTTP API fuzzed from its own OpenAPI description (`app/openapi.yaml`) with schemathesis.

A real router serves the mock provider and one toolset, whose tool is a webhook on the test's tool server.
Schemathesis generates requests for every operation, valid and not; request bodies naming a model are steered
to the mock's answering scenarios, so generated messages, tools and schemas reach routing, the mock's argument
builder and normalisation instead of stopping at "unknown model". Tool names are steered to the toolset's
tool half of the time, so generated arguments reach validation and the tool; and every URL a generated
toolset names is the tool server's, so registering one never leaves the machine. The router may refuse
anything, but only ever with a 4xx (or an upstream's 5xx) in OpenAI's envelope (Anthropic's on the Messages
API, JSON-RPC's for the MCP server's own refusals): never a 500, which would mean it failed to handle the
request. The tool registry's answers must also be what the description says they are.
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
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from app import __version__
from tests.support.anthropic import assert_anthropic_error
from tests.support.openapi import assert_valid
from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator

    from schemathesis.schemas import BaseSchema
    from schemathesis.specs.openapi.schemas import OpenApiCase

    from tests.e2e.tools.servers import ToolServer
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

DESCRIPTION = Path(__file__).resolve().parents[2] / "app" / "openapi.yaml"
ADMIN_KEY = "admin-e2e-fuzz-0123456789"
SCENARIOS = ("mock/text", "mock/tool", "mock/parallel", "mock/noargs")
TOOL = "weather_current"
# Short deadlines and no waiting, so that requests for slow or failing scenarios end at once.
CONFIG = """
[routing]
timeout = 2
backoff_initial = 0.01
backoff_max = 0.02
retry_after_cap = 0

[tools]
timeout = 2

[toolsets.weather]
kind = "http"
[[toolsets.weather.tools]]
name = "current"
url = "{weather}"
parameters = {{ type = "object", properties = {{ city = {{ type = "string" }} }}, required = ["city"] }}
"""
# The fields of a toolset definition that name somewhere to connect to (or, `openapi`, a file to read).
URL_FIELDS = ("url", "base_url", "openapi")
# The checks of schemathesis that hold the tool registry's answers to the description.
DESCRIBED = [response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzzed_router(tmp_path_factory: pytest.TempPathFactory, tool_server: ToolServer) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("fuzz")
    config = directory / "llm-router.toml"
    config.write_text(CONFIG.format(weather=tool_server.url("/weather")), encoding="utf-8")
    env = {"MOCK_SLOW_SECONDS": "0.01", "LLM_ROUTER_ADMIN_KEY": ADMIN_KEY}
    for router in run_router(directory, env, ("--config", str(config))):
        # One invocation in the history from the start, so that listing it shows a record, not an empty list.
        invoked = httpx.post(f"{router.base_url}/tools/{TOOL}/invoke", json={"arguments": {"city": "Oslo"}}, timeout=10)
        assert invoked.status_code == 200, invoked.text
        yield router


# Loaded from the file (the same one the router serves: see the test below) when the module is collected,
# because schemathesis parametrizes tests at collection time.
# Two streams never end by themselves, so a request for them would never return: the dashboard's (read by
# the dashboard's own tests instead) and the tool invocations' (read by tests/e2e/test_tools.py).
api: BaseSchema = (
    schemathesis.openapi.from_path(DESCRIPTION)
    .exclude(path="/admin/stream")
    .exclude(path="/v1/tools/invocations/stream")
)


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
def test_no_request_makes_the_router_fail(
    case: OpenApiCase, fuzzed_router: RouterProcess, tool_server: ToolServer
) -> None:
    steer(case, tool_server)

    response = case.call(base_url=fuzzed_router.root_url, headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)

    assert response.status_code != 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if "Tools" in (case.operation.tags or ()):
        case.validate_response(response, checks=DESCRIBED)
    if response.status_code >= 400:
        error: Any = response.json()
        if case.path.startswith("/v1/messages"):
            assert_anthropic_error(error)
        elif case.path == "/mcp" and "jsonrpc" in error:
            assert error["error"]["code"] < 0  # the MCP server's own refusals are JSON-RPC errors
        else:
            assert_valid(error, "ErrorResponse")


def steer(case: OpenApiCase, tool_server: ToolServer) -> None:
    """Point a generated request at what the router serves, the same way every time for the same request, so
    that a failure replays."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        body["model"] = SCENARIOS[_digest(body) % len(SCENARIOS)]
    name = (case.path_parameters or {}).get("name")
    if case.path.startswith("/v1/tools/{name}") and isinstance(name, str) and _digest(name) % 2:
        case.path_parameters = {**(case.path_parameters or {}), "name": TOOL}
    params = body.get("params") if isinstance(body, dict) and case.path == "/mcp" else None
    if isinstance(params, dict) and isinstance(params.get("name"), str) and _digest(params) % 2:
        params["name"] = TOOL
    if case.path.startswith("/v1/toolsets") and isinstance(body, dict):
        tools = body.get("tools")
        for definition in [body, *tools] if isinstance(tools, list) else [body]:
            for field in URL_FIELDS:
                if isinstance(definition, dict) and isinstance(definition.get(field), str):
                    definition[field] = tool_server.url("/openapi.json" if field == "openapi" else "/weather")


def _digest(value: object) -> int:
    items = sorted(value.items(), key=str) if isinstance(value, dict) else value
    return hashlib.sha256(repr(items).encode()).digest()[0]
