"""Hostile input against the real server: refused with a 400 in OpenAI's envelope, before any upstream call."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.openapi import assert_valid

if TYPE_CHECKING:
    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("endpoint", ["chat/completions", "responses"])
@pytest.mark.parametrize(
    "model",
    ["openrouter/te\nst", "openrouter/te\rst", "openrouter/te\x00st", "openrouter/\u2713", "openrouter/a b"],
    ids=["newline", "carriage-return", "nul", "not-ascii", "space"],
)
def test_a_model_name_no_provider_could_have_is_a_400(
    router: RouterProcess, upstream: Upstream, endpoint: str, model: str
) -> None:
    received = len(upstream.received)
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "input": "Hi"}
    response = httpx.post(f"{router.base_url}/{endpoint}", content=json.dumps(body), timeout=10)

    assert response.status_code == 400, response.text
    error = response.json()
    assert_valid(error, "ErrorResponse")
    assert error["error"]["param"] == "model"
    assert len(upstream.received) == received


def test_a_body_nested_too_deeply_is_a_400(router: RouterProcess) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    body = b'{"model": "mock/text", "messages": [{"role": "user", "content": "Hi"}], "x": ' + deep + b"}"
    response = httpx.post(
        f"{router.base_url}/chat/completions", content=body, headers={"content-type": "application/json"}, timeout=10
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"
    assert httpx.get(f"{router.root_url}/health", timeout=5).status_code == 200
