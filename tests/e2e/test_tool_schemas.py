"""Client-supplied tool schemas against the real router: refused on arrival when unusable, and never able to
stall a worker when the tool-call guard runs them."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.openapi import assert_valid

if TYPE_CHECKING:
    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e


def weather_tool(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "get_weather", "parameters": parameters}}


def test_a_tool_schema_with_a_ref_to_nowhere_is_a_400_before_any_upstream_call(
    router: RouterProcess, upstream: Upstream
) -> None:
    marker = f"ref to nowhere {uuid.uuid4()}"
    body = {
        "model": "openrouter/tool",
        "messages": [{"role": "user", "content": marker}],
        "tools": [weather_tool({"type": "object"}), weather_tool({"$ref": "#/nope"})],
    }

    response = httpx.post(f"{router.base_url}/chat/completions", json=body, timeout=10)

    assert response.status_code == 400
    assert_valid(response.json(), "ErrorResponse")
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "tools[1].function.parameters"
    assert error["code"] == "invalid_function_parameters"
    assert "'#/nope' does not resolve" in error["message"]
    assert not [r for r in upstream.received if r.marker == marker]


def test_the_same_through_the_responses_api(router: RouterProcess, upstream: Upstream) -> None:
    marker = f"responses ref to nowhere {uuid.uuid4()}"
    tool = {"type": "function", "name": "get_weather", "parameters": {"properties": {"city": {"$ref": "#/nope"}}}}
    body = {"model": "openrouter/tool", "input": marker, "tools": [tool]}

    response = httpx.post(f"{router.base_url}/responses", json=body, timeout=10)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tools[0].parameters"
    assert error["code"] == "invalid_function_parameters"
    assert not [r for r in upstream.received if r.marker == marker]


async def test_a_backtracking_pattern_does_not_stall_the_worker(router: RouterProcess) -> None:
    # `models: ["free", ...]` brings the free alias's tool-call guard with it, so the mock's tool call, whose
    # `city` is the quoted text below, is checked against `^(a+)+$`: with a backtracking engine, 30
    # characters kept the worker busy for about a minute. `mock/text` ends the list so that an answer comes
    # at once even while another test has the free models cooling down.
    pathological = {
        "model": "mock/tool",
        "models": ["free", "mock/text"],
        "messages": [{"role": "user", "content": f"Weather in '{'a' * 30}!'"}],
        "tools": [weather_tool({"type": "object", "properties": {"city": {"type": "string", "pattern": "^(a+)+$"}}})],
    }
    probe = {"model": "mock/text", "messages": [{"role": "user", "content": "Are you there?"}]}

    async with httpx.AsyncClient(base_url=router.base_url, timeout=10) as http:
        started = time.perf_counter()
        guarded = asyncio.create_task(http.post("/chat/completions", json=pathological))
        answered = await http.post("/chat/completions", json=probe)
        probe_seconds = time.perf_counter() - started
        response = await guarded
        guarded_seconds = time.perf_counter() - started

    assert answered.status_code == 200
    assert probe_seconds < 5.0  # a worker stuck in backtracking would take minutes
    assert guarded_seconds < 5.0
    assert response.status_code == 200, response.text
    # The guard rejected the mock's call, so another target answered.
    assert response.headers["x-llm-router-target"] != "mock/tool"
