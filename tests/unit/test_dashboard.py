"""The dashboard's page and files, and the admin endpoints behind it: who may read them, and what they show."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.access import hash_key

from .support import OPENROUTER_CHAT, USER_HI, assert_error, stream_chunks
from .wire_examples import DEEPSEEK_KEY, OPENROUTER_KEY

if TYPE_CHECKING:
    import contextlib
    from collections.abc import AsyncIterator, Callable

    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]
    MakeClient = Callable[..., contextlib.AbstractAsyncContextManager[Client]]

ADMIN_KEY = "admin-unit-dashboard-0123456789"
CLIENT_KEY = "sk-llmr-unit-dashboard-client"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
ENDPOINTS = [
    ("GET", "/admin/overview"),
    ("GET", "/admin/stream"),
    ("GET", "/admin/requests"),
    ("GET", "/admin/requests/some-id"),
    ("GET", "/admin/aliases"),
    ("GET", "/admin/models"),
    ("GET", "/admin/config"),
    ("GET", "/admin/tools"),
    ("GET", "/admin/tools/invocations"),
    ("POST", "/admin/tools/weather_current/invoke"),
    ("POST", "/admin/chat/completions"),
]
SETTINGS: dict[str, Any] = {
    "admin_key": ADMIN_KEY,
    "models": {"smart": {"targets": ["openrouter/meta/llama", "mock/text"]}},
    "routing": {"max_attempts": 1, "failure_threshold": 1},
    "agents": {"forecaster": {"model": "mock/tool", "tools": ["weather_*"]}},
}


DESCRIPTION = Path(__file__).resolve().parents[2] / "app" / "openapi.yaml"


@functools.cache
def _described() -> Registry:
    document = yaml.safe_load(DESCRIPTION.read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resource(
        "urn:llm-router", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return registry


def assert_described(instance: Any, schema_name: str) -> None:
    """The instance matches the schema the router's own OpenAPI description gives it."""
    schema = {"$ref": f"urn:llm-router#/components/schemas/{schema_name}"}
    errors = list(jsonschema.Draft202012Validator(schema, registry=_described()).iter_errors(instance))
    assert not errors, [error.message for error in errors]


@pytest.fixture
async def dashboard(make_client: MakeClient, upstream: respx.MockRouter) -> AsyncIterator[Client]:
    # The providers' model lists, which alias targets are checked against: empty.
    upstream.get(url__regex=r".*/models$").mock(return_value=httpx.Response(200, json={"data": []}))
    async with make_client(**SETTINGS) as client:
        yield client


async def chat(client: Client, model: str = "mock/text", **headers: str) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={"model": model, "messages": USER_HI}, headers=headers)


# --------------------------------------------------------------------------------------------- access


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_the_endpoints_need_the_admin_key(dashboard: Client, method: str, path: str) -> None:
    missing = await dashboard.request(method, path)
    wrong = await dashboard.request(method, path, headers={"authorization": "Bearer not-the-admin-key"})

    assert_error(missing, 401, code="invalid_api_key")
    assert_error(wrong, 403, code="invalid_admin_key")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_without_an_admin_key_the_endpoints_are_off(client: Client, method: str, path: str) -> None:
    response = await client.request(method, path, headers={"authorization": "Bearer anything"})

    assert_error(response, 403, code="admin_disabled")


async def test_without_an_admin_key_the_page_says_the_dashboard_is_off(client: Client) -> None:
    response = await client.get("/ui")

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "The dashboard is off" in response.text
    assert "LLM_ROUTER_ADMIN_KEY" in response.text


async def test_a_client_key_opens_the_page_but_not_its_data(make_client: MakeClient) -> None:
    keys = {"team": {"sha256": hash_key(CLIENT_KEY)}}
    async with make_client(**SETTINGS, keys=keys) as client:
        page = await client.get("/ui")
        script = await client.get("/ui/js/main.js")
        data = await client.get("/admin/overview", headers={"authorization": f"Bearer {CLIENT_KEY}"})

    assert page.status_code == 200
    assert script.status_code == 200
    assert_error(data, 403, code="invalid_admin_key")


# ------------------------------------------------------------------------------------- page and files


async def test_the_page_and_its_files_are_served_with_their_types_and_a_strict_policy(dashboard: Client) -> None:
    page = await dashboard.get("/ui")
    styles = await dashboard.get("/ui/app.css")
    script = await dashboard.get("/ui/js/main.js")
    icon = await dashboard.get("/ui/favicon.svg")

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/ui/js/main.js">' in page.text
    assert styles.headers["content-type"] == "text/css; charset=utf-8"
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert icon.headers["content-type"] == "image/svg+xml"
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    assert script.headers["x-content-type-options"] == "nosniff"


async def test_every_script_the_page_loads_is_shipped_and_nothing_comes_from_elsewhere(dashboard: Client) -> None:
    page = (await dashboard.get("/ui")).text
    main = (await dashboard.get("/ui/js/main.js")).text
    modules = [line.split('"./')[1].split('"')[0] for line in main.splitlines() if line.startswith("import ")]

    for module in modules:
        response = await dashboard.get(f"/ui/js/{module}")
        assert response.status_code == 200, module
        for imported in (line for line in response.text.splitlines() if line.startswith("import ")):
            assert '"./' in imported, imported  # only the dashboard's own modules
        assert "http://" not in response.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in response.text
    assert "http" not in page.replace('name="viewport"', "")


async def test_only_shipped_files_can_be_named(dashboard: Client) -> None:
    for path in ("/ui/nothing.js", "/ui/../settings.py", "/ui/%2e%2e/views.py", "/ui/js/../../views.py"):
        response = await dashboard.get(path)
        assert response.status_code == 404, path


async def test_an_unchanged_file_is_not_sent_again(dashboard: Client) -> None:
    first = await dashboard.get("/ui/app.css")
    again = await dashboard.get("/ui/app.css", headers={"if-none-match": first.headers["etag"]})

    assert again.status_code == 304
    assert again.content == b""


# ------------------------------------------------------------------------------------------- requests


async def test_recent_requests_show_what_each_request_did(dashboard: Client) -> None:
    assert (await chat(dashboard, **{"x-request-id": "unit-ok"})).status_code == 200
    assert (await chat(dashboard, "nowhere/model", **{"x-request-id": "unit-missing"})).status_code == 404
    await dashboard.get("/health")

    listed = (await dashboard.get("/admin/requests", headers=ADMIN)).json()

    assert listed["object"] == "list"
    assert [record["id"] for record in listed["data"]] == ["unit-missing", "unit-ok"]
    missing, ok = listed["data"]
    for record in listed["data"]:
        assert_described(record, "RequestRecord")
    assert (ok["status"], ok["model"], ok["target"], ok["attempts"]) == (200, "mock/text", "mock/text", 1)
    assert ok["completion_tokens"] > 0
    assert missing["status"] == 404
    assert "does not exist" in missing["error"]
    assert ok["request_body"] is None


async def test_recent_requests_can_be_filtered(dashboard: Client) -> None:
    await chat(dashboard, **{"x-request-id": "unit-a"})
    await chat(dashboard, "nowhere/model", **{"x-request-id": "unit-b"})

    async def ids(query: str) -> list[str]:
        response = await dashboard.get(f"/admin/requests?{query}", headers=ADMIN)
        return [record["id"] for record in response.json()["data"]]

    assert await ids("status=4xx") == ["unit-b"]
    assert await ids("status=200") == ["unit-a"]
    assert await ids("model=mock/text") == ["unit-a"]
    assert await ids("limit=1") == ["unit-b"]
    assert_error(await dashboard.get("/admin/requests?status=bad", headers=ADMIN), 400, code="invalid_value")
    assert_error(await dashboard.get("/admin/requests?limit=0", headers=ADMIN), 400, code="invalid_value")


async def test_one_request_s_detail_and_an_unknown_one(dashboard: Client) -> None:
    await chat(dashboard, **{"x-request-id": "unit-detail"})

    found = await dashboard.get("/admin/requests/unit-detail", headers=ADMIN)
    unknown = await dashboard.get("/admin/requests/never-seen", headers=ADMIN)

    assert found.json()["id"] == "unit-detail"
    assert_error(unknown, 404, code="request_not_found")


async def test_bodies_are_kept_only_with_content_logging(make_client: MakeClient) -> None:
    async with make_client(**SETTINGS, dashboard={"log_content": True, "content_bytes": 4096}) as client:
        await chat(client, **{"x-request-id": "unit-content"})
        detail = (await client.get("/admin/requests/unit-content", headers=ADMIN)).json()
        listed = (await client.get("/admin/requests", headers=ADMIN)).json()["data"][0]

    assert json.loads(detail["request_body"])["model"] == "mock/text"
    assert json.loads(detail["response_body"])["object"] == "chat.completion"
    assert listed["request_body"] is None  # lists and the live tail leave bodies out


async def test_without_content_logging_no_body_is_kept(dashboard: Client) -> None:
    await chat(dashboard, **{"x-request-id": "unit-no-content"})

    detail = (await dashboard.get("/admin/requests/unit-no-content", headers=ADMIN)).json()

    assert detail["request_body"] is None
    assert detail["response_body"] is None


# ------------------------------------------------------------------------------------ overview, targets


async def test_the_overview_counts_requests_and_says_why_a_target_failed(
    dashboard: Client, upstream: respx.MockRouter
) -> None:
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(502, json={"error": {"message": "bad gateway"}}))
    answered = await chat(dashboard, "smart")
    assert answered.headers["x-llm-router-target"] == "mock/text"

    overview = (await dashboard.get("/admin/overview", headers=ADMIN)).json()

    assert_described(overview, "DashboardOverview")
    assert overview["object"] == "dashboard.overview"
    assert overview["requests"] == 1
    assert overview["error_rate"] == 0.0
    assert overview["p50_ms"] is not None
    assert len(overview["series"]["requests"]) == 119
    targets = {target["target"]: target for target in overview["targets"]}
    failed = targets["openrouter/meta/llama"]
    assert failed["state"] == "open"
    assert "502" in failed["last_error"]["message"]
    assert targets["mock/text"]["last_error"] is None


async def test_resetting_a_target_forgets_its_last_error(dashboard: Client, upstream: respx.MockRouter) -> None:
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(502, json={"error": {"message": "bad gateway"}}))
    await chat(dashboard, "smart")

    reset = await dashboard.post("/admin/targets/reset", json={"target": "openrouter/meta/llama"}, headers=ADMIN)
    upstream.post(OPENROUTER_CHAT).mock(return_value=httpx.Response(502, json={"error": {"message": "bad"}}))
    overview = (await dashboard.get("/admin/overview", headers=ADMIN)).json()

    assert reset.json() == {"reset": "openrouter/meta/llama"}
    assert "openrouter/meta/llama" not in {target["target"] for target in overview["targets"]}


async def test_the_aliases_show_their_strategy_and_targets_and_the_agents(dashboard: Client) -> None:
    listed = (await dashboard.get("/admin/aliases", headers=ADMIN)).json()

    smart = next(alias for alias in listed["data"] if alias["name"] == "smart")
    assert smart["strategy"] == "priority"
    assert [target["model"] for target in smart["targets"]] == ["openrouter/meta/llama", "mock/text"]
    assert smart["max_attempts"] == 1
    assert listed["agents"][0]["name"] == "forecaster"
    assert listed["agents"][0]["tools"] == ["weather_*"]


async def test_the_playground_may_name_aliases_agents_and_models(dashboard: Client) -> None:
    listed = (await dashboard.get("/admin/models", headers=ADMIN)).json()["data"]

    kinds = {model["id"]: model["kind"] for model in listed}
    assert kinds["smart"] == "alias"
    assert kinds["forecaster"] == "agent"
    assert kinds["mock/tool"] == "model"


# ------------------------------------------------------------------------------------------ config


async def test_the_config_shows_every_setting_with_every_secret_redacted(make_client: MakeClient) -> None:
    toolsets = {
        "weather": {
            "kind": "http",
            "headers": {"Authorization": "Bearer tool-secret-0123456789"},
            "tools": [
                {
                    "name": "current",
                    "url": "http://127.0.0.1:9/weather",
                    "headers": {"X-Token": "tool-secret-9876543210"},
                    "parameters": {"type": "object"},
                }
            ],
        }
    }
    keys = {"team": {"sha256": hash_key(CLIENT_KEY)}}
    settings = {**SETTINGS, "keys": keys, "toolsets": toolsets, "redis": {"prefix": "dash"}}
    async with make_client(**settings) as client:
        response = await client.get("/admin/config", headers=ADMIN)

    config = response.json()
    text = response.text
    for secret in (ADMIN_KEY, OPENROUTER_KEY, DEEPSEEK_KEY, hash_key(CLIENT_KEY), "tool-secret-0123456789"):
        assert secret not in text
    assert "tool-secret-9876543210" not in text
    assert config["admin_key"] == "[redacted]"
    assert config["redis_url"] is None  # unset stays visibly unset
    assert config["providers"]["openrouter"]["api_key"] == "[redacted]"
    assert config["providers"]["openrouter"]["configured"] is True
    assert config["providers"]["openrouter"]["base_url"] == "https://openrouter.test/api/v1"
    assert config["keys"]["team"]["sha256"] == "[redacted]"
    assert config["toolsets"]["weather"]["headers"] == {"Authorization": "[redacted]"}
    assert config["toolsets"]["weather"]["tools"][0]["headers"] == {"X-Token": "[redacted]"}
    assert config["models"]["smart"]["strategy"] == "priority"
    assert config["dashboard"]["history"] == 1000


# ------------------------------------------------------------------------------------ tools, playground


async def test_the_registry_as_the_admin_sees_it(dashboard: Client) -> None:
    toolsets = (await dashboard.get("/admin/tools", headers=ADMIN)).json()
    invocations = (await dashboard.get("/admin/tools/invocations", headers=ADMIN)).json()
    unknown = await dashboard.post("/admin/tools/nothing_here/invoke", json={"arguments": {}}, headers=ADMIN)

    assert toolsets == {"object": "list", "data": []}
    assert invocations == {"object": "list", "data": []}
    assert_error(unknown, 404, code="tool_not_found")


async def test_the_playground_chats_streamed_or_not_and_is_recorded(dashboard: Client) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    body = {"model": "mock/tool", "messages": USER_HI, "tools": tools}

    whole = await dashboard.post("/admin/chat/completions", json=body, headers=ADMIN)
    streamed = await dashboard.post("/admin/chat/completions", json={**body, "stream": True}, headers=ADMIN)
    plain = await dashboard.post("/v1/chat/completions", json=body)

    assert whole.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    chunks = stream_chunks(streamed.text)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert plain.status_code == 200
    recorded = (await dashboard.get("/admin/requests", headers=ADMIN)).json()["data"]
    assert [(record["path"], record["stream"]) for record in recorded] == [
        ("/v1/chat/completions", False),
        ("/admin/chat/completions", True),
        ("/admin/chat/completions", False),
    ]
