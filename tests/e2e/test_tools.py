"""The tool registry end to end: the real router process, real tool servers on 127.0.0.1 (HTTP, an OpenAPI
document, the official SDK's MCP server in both protocol eras), the admin and client APIs, `/mcp` driven by
the official MCP client, persistence across a restart, and client-key permissions."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from mcp.client.client import Client

from app.access import hash_key
from tests.e2e.tools.servers import ToolServer, run_mcp_server
from tests.support.processes import run_router
from tests.support.redis import RedisServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ADMIN = "admin-0secret-0key"
TOOL_CREDENTIAL = "tool-0credential-0never-0shown"
KEYS = {"weather-only": "sk-e2e-weather-only", "none": "sk-e2e-no-tools"}


@pytest.fixture(scope="module")
def mcp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from run_mcp_server(tmp_path_factory.mktemp("mcp"))


@pytest.fixture(scope="module")
def legacy_mcp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from run_mcp_server(tmp_path_factory.mktemp("mcp-legacy"), legacy_only=True)


def config(tmp: Path, tool_server: ToolServer, extra: str = "") -> Path:
    path = tmp / "router.toml"
    path.write_text(
        f"""
admin_key = "{ADMIN}"
[tools]
database = "{tmp / "tools.sqlite3"}"
[toolsets.weather]
kind = "http"
description = "Weather from an n8n webhook"
headers = {{ Authorization = "Bearer ${{E2E_TOOL_CREDENTIAL}}" }}
[[toolsets.weather.tools]]
name = "current"
description = "The weather now in a city."
url = "{tool_server.url("/weather")}"
parameters = {{ type = "object", properties = {{ city = {{ type = "string" }} }}, required = ["city"] }}
{extra}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, tool_server: ToolServer) -> Iterator[RouterProcess]:
    tmp = tmp_path_factory.mktemp("router")
    env = {"E2E_TOOL_CREDENTIAL": TOOL_CREDENTIAL}
    yield from run_router(tmp, env, ("--config", str(config(tmp, tool_server))))


@pytest.fixture
def http(router: RouterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=router.base_url, timeout=30) as client:
        yield client


def admin() -> dict[str, str]:
    return {"authorization": f"Bearer {ADMIN}"}


def register(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return http.post("/toolsets", json=body, headers=admin())


def http_toolset(toolset: str, tool_server: ToolServer, **tool: Any) -> dict[str, Any]:
    return {"name": toolset, "kind": "http", "tools": [{"name": "call", "url": tool_server.url("/weather"), **tool}]}


# ------------------------------------------------------------------------------------------------- HTTP kind


def test_a_config_toolset_is_listed_and_invoked_with_its_secret_header(
    http: httpx.Client, tool_server: ToolServer, router: RouterProcess
) -> None:
    listed = http.get("/tools").json()
    assert listed["object"] == "list"
    (tool,) = [tool for tool in listed["data"] if tool["name"] == "weather_current"]
    assert tool == {
        "object": "tool",
        "name": "weather_current",
        "toolset": "weather",
        "description": "The weather now in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "returns": None,
        "version": None,
    }
    assert http.get("/tools/weather_current/schema").json() == {
        "type": "function",
        "function": {"name": "weather_current", "description": tool["description"], "parameters": tool["parameters"]},
    }
    answer = http.post("/tools/weather_current/invoke", json={"arguments": {"city": "Paris"}})
    assert answer.status_code == 200
    result = answer.json()
    assert result["object"] == "tool.invocation"
    assert result["id"].startswith("call_")
    assert (result["tool"], result["is_error"], result["truncated"]) == ("weather_current", False, False)
    assert result["structured_content"] == {"city": "Paris", "temperature": 21}
    assert json.loads(result["content"][0]["text"]) == {"city": "Paris", "temperature": 21}
    assert tool_server.received[-1]["headers"]["Authorization"] == f"Bearer {TOOL_CREDENTIAL}"
    shown = http.get("/toolsets/weather", headers=admin()).json()
    assert shown["definition"]["headers"] == {"Authorization": "[redacted]"}
    assert shown["source"] == "config"
    assert TOOL_CREDENTIAL not in router.logs()


def test_arguments_are_validated_before_the_call(http: httpx.Client) -> None:
    answer = http.post("/tools/weather_current/invoke", json={"arguments": {"city": 7}})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "arguments.city"
    assert answer.json()["error"]["code"] == "invalid_tool_arguments"
    missing = http.post("/tools/weather_current/invoke", json={"arguments": {}})
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "arguments.city"  # the missing argument, named


def test_an_unknown_tool_is_404(http: httpx.Client) -> None:
    for answer in (http.get("/tools/nope_nothing"), http.post("/tools/nope_nothing/invoke", json={"arguments": {}})):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "tool_not_found"


def test_the_admin_api_needs_the_admin_key(http: httpx.Client, tool_server: ToolServer) -> None:
    body = http_toolset("nokey", tool_server)
    assert http.post("/toolsets", json=body).status_code == 401
    wrong = http.post("/toolsets", json=body, headers={"authorization": "Bearer wrong"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "invalid_admin_key"


def test_register_list_replace_delete(http: httpx.Client, tool_server: ToolServer) -> None:
    created = register(http, http_toolset("crud", tool_server, headers={"X-Token": "abc-secret-value"}))
    assert created.status_code == 201, created.text
    assert [tool["name"] for tool in created.json()["tools"]] == ["crud_call"]
    assert created.json()["definition"]["tools"][0]["headers"] == {"X-Token": "[redacted]"}
    assert "abc-secret-value" not in created.text
    duplicate = register(http, http_toolset("crud", tool_server))
    assert (duplicate.status_code, duplicate.json()["error"]["param"]) == (409, "name")
    replaced = http.put("/toolsets/crud", json=http_toolset("crud", tool_server, name="other"), headers=admin())
    assert [tool["name"] for tool in replaced.json()["tools"]] == ["crud_other"]
    assert http.get("/tools/crud_call").status_code == 404
    assert http.put("/toolsets/weather", json=http_toolset("weather", tool_server), headers=admin()).status_code == 409
    assert http.delete("/toolsets/crud", headers=admin()).json()["deleted"] is True
    assert http.get("/tools/crud_other").status_code == 404


def one_tool(**tool: Any) -> dict[str, Any]:
    return {"name": "bad", "kind": "http", "tools": [{"name": "x", **tool}]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (one_tool(url="http://169.254.169.254/latest"), "tools[0].url"),
        (one_tool(url="http://[fe80::1]/"), "tools[0].url"),
        (one_tool(url="http://a", parameters={"type": 5}), "tools[0].parameters"),
        ({"name": "bad", "kind": "smtp"}, "kind"),
        (one_tool(url="http://a", colour="red"), "tools[0].colour"),
        ({"name": "no spaces", "kind": "mcp", "url": "http://a"}, "name"),
    ],
)
def test_an_invalid_definition_is_400_naming_the_field(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    answer = register(http, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param
    assert answer.json()["error"]["code"] == "invalid_tool_definition"


def test_failures_on_the_tools_side_are_results_and_on_the_routers_side_errors(
    http: httpx.Client, tool_server: ToolServer
) -> None:
    body = {
        "name": "edge",
        "kind": "http",
        "tools": [
            {"name": "slow", "url": tool_server.url("/slow"), "timeout": 0.5},
            {"name": "fail", "url": tool_server.url("/fail")},
            {"name": "redirect", "url": tool_server.url("/redirect")},
            {"name": "big", "url": tool_server.url("/big")},
            {"name": "flaky", "url": tool_server.url("/flaky"), "max_attempts": 2},
            {"name": "limited", "url": tool_server.url("/weather"), "rate_limit": 1},
            {"name": "gone", "url": "http://127.0.0.1:9/nothing"},
        ],
    }
    assert register(http, body).status_code == 201

    slow = http.post("/tools/edge_slow/invoke", json={"arguments": {}})
    assert (slow.status_code, slow.json()["error"]["code"]) == (504, "tool_timeout")
    failed = http.post("/tools/edge_fail/invoke", json={"arguments": {}}).json()
    assert failed["is_error"] is True
    assert failed["structured_content"] == {"error": "the workflow failed"}
    redirected = http.post("/tools/edge_redirect/invoke", json={"arguments": {}}).json()
    assert redirected["is_error"] is True  # the 302 itself: never followed to the metadata address
    big = http.post("/tools/edge_big/invoke", json={"arguments": {}}).json()
    assert big["truncated"] is True
    assert len(big["content"][0]["text"]) == 1024 * 1024
    flaky = http.post("/tools/edge_flaky/invoke", json={"arguments": {}}).json()
    assert (flaky["is_error"], flaky["structured_content"]) == (False, {"ok": True})  # retried after a 503
    assert http.post("/tools/edge_limited/invoke", json={"arguments": {}}).status_code == 200
    limited = http.post("/tools/edge_limited/invoke", json={"arguments": {}})
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "tool_rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    gone = http.post("/tools/edge_gone/invoke", json={"arguments": {}})
    assert (gone.status_code, gone.json()["error"]["code"]) == (502, "tool_unreachable")


def test_get_tools_send_their_arguments_as_the_query(http: httpx.Client, tool_server: ToolServer) -> None:
    body = {
        "name": "query",
        "kind": "http",
        "tools": [{"name": "forecast", "method": "GET", "url": tool_server.url("/forecast")}],
    }
    assert register(http, body).status_code == 201
    result = http.post("/tools/query_forecast/invoke", json={"arguments": {"city": "Oslo", "days": 3}}).json()
    assert result["structured_content"] == {"query": {"city": "Oslo", "days": "3"}}


# ---------------------------------------------------------------------------------------------- OpenAPI kind


def test_an_openapi_document_served_locally_becomes_tools(http: httpx.Client, tool_server: ToolServer) -> None:
    created = register(http, {"name": "pets", "kind": "openapi", "openapi": tool_server.url("/openapi.json")})
    assert created.status_code == 201, created.text
    tools = {tool["name"]: tool for tool in created.json()["tools"]}
    assert set(tools) == {"pets_getPet", "pets_pets_create"}  # `pets.create` made a valid name
    assert tools["pets_getPet"]["parameters"]["required"] == ["pet_id"]
    assert tools["pets_getPet"]["returns"]["properties"]["name"] == {"type": "string"}  # $ref inlined
    pet = http.post("/tools/pets_getPet/invoke", json={"arguments": {"pet_id": 7, "verbose": True}}).json()
    assert pet["structured_content"] == {"id": 7, "name": "Rex", "verbose": "true"}
    made = http.post("/tools/pets_pets_create/invoke", json={"arguments": {"name": "Tom"}}).json()
    assert made["structured_content"] == {"created": {"name": "Tom"}}


# -------------------------------------------------------------------------------------------------- MCP kind


@pytest.mark.parametrize("legacy", [False, True], ids=["2026-07-28", "2025-11-25 fallback"])
def test_an_mcp_server_is_used_in_either_protocol_era(
    http: httpx.Client, mcp_url: str, legacy_mcp_url: str, legacy: bool
) -> None:
    name = "legacy" if legacy else "calc"
    created = register(http, {"name": name, "kind": "mcp", "url": legacy_mcp_url if legacy else mcp_url})
    assert created.status_code == 201, created.text
    names = {tool["name"] for tool in created.json()["tools"]}
    assert names == {f"{name}_add", f"{name}_text_echo", f"{name}_broken"}
    added = http.post(f"/tools/{name}_add/invoke", json={"arguments": {"a": 2, "b": 40}}).json()
    assert added["is_error"] is False
    assert added["structured_content"] == {"result": 42}
    echoed = http.post(f"/tools/{name}_text_echo/invoke", json={"arguments": {"text": "hé"}}).json()
    assert echoed["content"] == [{"type": "text", "text": "hé"}]  # called as `text.echo` on the wire
    broken = http.post(f"/tools/{name}_broken/invoke", json={"arguments": {}}).json()
    assert broken["is_error"] is True
    refreshed = http.post(f"/toolsets/{name}/refresh", headers=admin())
    assert refreshed.status_code == 200
    assert http.delete(f"/toolsets/{name}", headers=admin()).status_code == 200


def test_allowed_tools_filters_an_mcp_server(http: httpx.Client, mcp_url: str) -> None:
    created = register(http, {"name": "onlyadd", "kind": "mcp", "url": mcp_url, "allowed_tools": ["add"]})
    assert [tool["name"] for tool in created.json()["tools"]] == ["onlyadd_add"]
    missing = register(http, {"name": "nosuch", "kind": "mcp", "url": mcp_url, "allowed_tools": ["nope"]})
    assert (missing.status_code, missing.json()["error"]["param"]) == (400, "allowed_tools")


# ---------------------------------------------------------------------------------------------- observability


def test_invocations_are_listed_streamed_counted_and_logged(http: httpx.Client, router: RouterProcess) -> None:
    seen: list[dict[str, Any]] = []
    ready = threading.Event()

    def watch() -> None:
        with (
            httpx.Client(base_url=router.base_url, timeout=30) as client,
            client.stream("GET", "/tools/invocations/stream") as stream,
        ):
            for line in stream.iter_lines():
                ready.set()
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert ready.wait(10)
    answer = http.post(
        "/tools/weather_current/invoke", json={"arguments": {"city": "Lima"}}, headers={"x-request-id": "e2e-watch-1"}
    )
    watcher.join(10)
    assert seen
    assert seen[0]["request_id"] == "e2e-watch-1"
    assert seen[0]["outcome"] == "success"
    assert "arguments" not in seen[0]  # content is not recorded unless [tools] log_content is on
    history = http.get("/tools/invocations", params={"tool": "weather_current", "limit": 1}).json()
    assert history["data"][0]["id"] == answer.json()["id"]
    metrics = httpx.get(f"{router.root_url}/metrics").text
    assert 'llm_router_tool_invocations_total{outcome="success",tool="weather_current"}' in metrics
    assert "llm_router_tool_invocation_duration_seconds_bucket" in metrics
    deadline = time.monotonic() + 5
    while "e2e-watch-1" not in router.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "tool weather_current success" in router.logs()


# ------------------------------------------------------------------------------------------------ /mcp server


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_router_is_an_mcp_server_for_the_official_client(router: RouterProcess, mode: str) -> None:
    async with Client(f"{router.root_url}/mcp", mode=mode) as client:
        listed = await client.list_tools()
        assert "weather_current" in {tool.name for tool in listed.tools}
        called = await client.call_tool("weather_current", {"city": "Rome"})
        assert called.is_error is False
        assert json.loads(called.content[0].text) == {"city": "Rome", "temperature": 21}  # type: ignore[union-attr]
        invalid = await client.call_tool("weather_current", {"city": 3})
        assert invalid.is_error is True


def test_mcp_refuses_browser_origins(router: RouterProcess) -> None:
    answer = httpx.post(
        f"{router.root_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"origin": "http://evil.example"},
    )
    assert answer.status_code == 403


# ---------------------------------------------------------------------------------- persistence and keys


def test_api_toolsets_survive_a_restart(tmp_path: Path, tool_server: ToolServer) -> None:
    path = config(tmp_path, tool_server)
    env = {"E2E_TOOL_CREDENTIAL": TOOL_CREDENTIAL}
    for first in (True, False):
        for router in run_router(tmp_path, env, ("--config", str(path))):
            with httpx.Client(base_url=router.base_url, timeout=30) as http:
                if first:
                    assert register(http, http_toolset("kept", tool_server)).status_code == 201
                else:
                    answer = http.post("/tools/kept_call/invoke", json={"arguments": {"city": "Bern"}})
                    assert answer.json()["structured_content"]["city"] == "Bern"
                    assert http.get("/toolsets/kept", headers=admin()).json()["source"] == "api"


def test_a_client_key_sees_and_invokes_only_its_tools(tmp_path: Path, tool_server: ToolServer) -> None:
    keys = f"""
[keys.weather-only]
sha256 = "{hash_key(KEYS["weather-only"])}"
tools = ["weather_*"]
[keys.none]
sha256 = "{hash_key(KEYS["none"])}"
"""
    env = {"E2E_TOOL_CREDENTIAL": TOOL_CREDENTIAL}
    for router in run_router(tmp_path, env, ("--config", str(config(tmp_path, tool_server, keys)))):
        with httpx.Client(base_url=router.base_url, timeout=30) as http:
            allowed = {"authorization": f"Bearer {KEYS['weather-only']}"}
            denied = {"authorization": f"Bearer {KEYS['none']}"}
            assert register(http, http_toolset("other", tool_server)).status_code == 201  # the admin key passes
            assert [tool["name"] for tool in http.get("/tools", headers=allowed).json()["data"]] == ["weather_current"]
            assert http.get("/tools", headers=denied).json()["data"] == []
            ok = http.post("/tools/weather_current/invoke", json={"arguments": {"city": "Oslo"}}, headers=allowed)
            assert ok.status_code == 200
            assert http.post("/tools/other_call/invoke", json={"arguments": {}}, headers=allowed).status_code == 404
            assert http.post("/tools/weather_current/invoke", json={"arguments": {}}, headers=denied).status_code == 404
            assert http.get("/tools").status_code == 401
            mcp = http.post(
                f"{router.root_url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=denied
            )
            assert mcp.json()["result"]["tools"] == []


def test_private_addresses_can_be_refused_at_connect_time(tmp_path: Path, tool_server: ToolServer) -> None:
    # `localhost` is a name: it passes registration, and its address is refused when the call connects.
    extra = "allow_private_networks = false\n"
    path = tmp_path / "router.toml"
    path.write_text(f'admin_key = "{ADMIN}"\n[tools]\n{extra}database = "{tmp_path / "t.sqlite3"}"\n', encoding="utf-8")
    for router in run_router(tmp_path, {}, ("--config", str(path))):
        with httpx.Client(base_url=router.base_url, timeout=30) as http:
            url = tool_server.url("/weather").replace("127.0.0.1", "localhost")
            body = {"name": "local", "kind": "http", "tools": [{"name": "call", "url": url}]}
            assert register(http, body).status_code == 201
            answer = http.post("/tools/local_call/invoke", json={"arguments": {}})
            assert answer.status_code == 502
            assert answer.json()["error"]["code"] == "tool_address_refused"
            assert "private address" in answer.json()["error"]["message"]
            literal = {"name": "lit", "kind": "http", "tools": [{"name": "call", "url": tool_server.url("/weather")}]}
            assert register(http, literal).json()["error"]["param"] == "tools[0].url"


def test_two_instances_share_toolsets_and_invocations_through_redis(tmp_path: Path, tool_server: ToolServer) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        path = tmp_path / "router.toml"
        path.write_text(f'admin_key = "{ADMIN}"\n', encoding="utf-8")
        env = {"REDIS_URL": redis.url}
        one = run_router(tmp_path, env, ("--config", str(path)))
        two = run_router(tmp_path, env, ("--config", str(path)))
        first, second = next(one), next(two)
        try:
            with (
                httpx.Client(base_url=first.base_url, timeout=30) as a,
                httpx.Client(base_url=second.base_url, timeout=30) as b,
            ):
                assert register(a, http_toolset("shared", tool_server)).status_code == 201
                registered = time.monotonic()
                while b.get("/tools/shared_call").status_code != 200:
                    assert time.monotonic() - registered < 1.0, "not visible on the other instance within a second"
                    time.sleep(0.02)
                answer = b.post("/tools/shared_call/invoke", json={"arguments": {"city": "Riga"}}).json()
                assert answer["structured_content"]["city"] == "Riga"
                history = a.get("/tools/invocations", params={"tool": "shared_call"}).json()["data"]
                assert [each["id"] for each in history] == [answer["id"]]
                assert b.delete("/toolsets/shared", headers=admin()).status_code == 200
                removed = time.monotonic()
                while a.get("/tools/shared_call").status_code != 404:
                    assert time.monotonic() - removed < 1.0
                    time.sleep(0.02)
        finally:
            one.close()
            two.close()
    finally:
        redis.stop()


# ------------------------------------------------------------------------------------------------- LangChain


async def test_registry_tools_load_as_langchain_tools_that_invoke_through_the_router(
    router: RouterProcess, tool_server: ToolServer
) -> None:
    from langchain_core.messages import ToolCall
    from langchain_llm_router import ChatLLMRouter, aload_router_tools, load_router_tools

    (weather,) = load_router_tools(router.base_url, names=["weather_current"])
    assert weather.name == "weather_current"
    message = weather.invoke(ToolCall(name="weather_current", args={"city": "Turin"}, id="call_1", type="tool_call"))
    assert json.loads(message.content) == {"city": "Turin", "temperature": 21}
    assert message.artifact["object"] == "tool.invocation"
    invalid = weather.invoke(ToolCall(name="weather_current", args={"city": 5}, id="call_2", type="tool_call"))
    assert "city" in str(invalid.content)  # the schema refused it before the call: the model sees why
    tools = {tool.name: tool for tool in await aload_router_tools(router.base_url)}
    assert "weather_current" in tools
    assert await tools["weather_current"].ainvoke({"city": "Nice"}) == '{"city": "Nice", "temperature": 21}'
    bound = ChatLLMRouter(model="mock/tool", base_url=router.base_url).bind_tools([weather])
    reply = await bound.ainvoke("What is the weather in 'Paris'?")
    assert reply.tool_calls[0]["name"] == "weather_current"
    assert reply.tool_calls[0]["args"] == {"city": "Paris"}
