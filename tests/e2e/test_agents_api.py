"""The agents' admin API end to end: the real router process registers, lists, replaces and deletes agents
over HTTP; a registered agent answers at once through the official OpenAI SDK on both endpoints (its tool
on a local tool server); the admin-key rules; and API agents kept across a restart (SQLite) and shared by two
instances (a real Redis)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
import openai
import pytest
import yaml

from app.access import hash_key
from tests.support.openapi import assert_valid
from tests.support.processes import run_router
from tests.support.redis import RedisServer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.e2e.tools.servers import ToolServer
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

ADMIN = "admin-e2e-agents-api-0123456789"
DESCRIPTION = Path(__file__).resolve().parents[2] / "app" / "openapi.yaml"
WEATHER = "What is the weather in 'Oslo'?"
CLIENT_KEY = "sk-e2e-agents-api-client"


def write_config(directory: Path, tool_server: ToolServer, extra: str = "") -> Path:
    path = directory / "router.toml"
    path.write_text(
        f"""
admin_key = "{ADMIN}"

[tools]
database = "{directory / "router.sqlite3"}"

[toolsets.weather]
kind = "http"

[[toolsets.weather.tools]]
name = "current"
description = "The weather now in a city."
url = "{tool_server.url("/weather")}"
parameters = {{ type = "object", properties = {{ city = {{ type = "string" }} }}, required = ["city"] }}

[models.fast]
targets = ["mock/tool"]

[agents.forecaster]
model = "mock/tool"
tools = ["weather_current"]
{extra}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def api_router(tmp_path_factory: pytest.TempPathFactory, tool_server: ToolServer) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("agents-api")
    yield from run_router(directory, {}, ("--config", str(write_config(directory, tool_server))))


@pytest.fixture
def http(api_router: RouterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_router.base_url, timeout=30, headers=admin()) as client:
        yield client


@pytest.fixture
def sdk(api_router: RouterProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=api_router.base_url, api_key="unused", max_retries=0) as client:
        yield client


def admin() -> dict[str, str]:
    return {"authorization": f"Bearer {ADMIN}"}


def agent(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "model": "mock/tool", "tools": ["weather_current"], **fields}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert_valid(body, "ErrorResponse")
    error: dict[str, Any] = body["error"]
    return error


def assert_described(agent: dict[str, Any]) -> None:
    """The agent is as the router's own OpenAPI description says."""
    schemas = yaml.safe_load(DESCRIPTION.read_text(encoding="utf-8"))["components"]["schemas"]
    jsonschema.Draft202012Validator(schemas["Agent"]).validate(agent)


def within_a_second(condition: Callable[[], bool], what: str) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < 1.0, f"{what} not within a second"
        time.sleep(0.02)


# --------------------------------------------------------------------------------------------- the API


def test_register_list_get_replace_delete(http: httpx.Client) -> None:
    created = http.post("/agents", json=agent("crud", instructions="Be brief.", max_rounds=3))

    assert created.status_code == 201, created.text
    shown = created.json()
    assert_described(shown)
    assert isinstance(shown.pop("updated_at"), int)
    assert shown == {
        "object": "agent",
        "name": "crud",
        "model": "mock/tool",
        "tools": ["weather_current"],
        "instructions": "Be brief.",
        "describe_toolsets": False,
        "description": "",
        "max_rounds": 3,
        "parallel_tool_calls": 4,
        "tool_timeout": None,
        "source": "api",
    }
    listed = http.get("/agents").json()
    assert listed["object"] == "list"
    for each in listed["data"]:
        assert_described(each)
    sources = {each["name"]: each["source"] for each in listed["data"]}
    assert (sources["forecaster"], sources["crud"]) == ("config", "api")
    assert http.get("/agents/crud").json()["instructions"] == "Be brief."
    assert http.get("/agents/forecaster").json()["tools"] == ["weather_current"]

    replaced = http.put("/agents/crud", json=agent("crud", model="fast", tool_timeout=2.5))
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["model"], replaced.json()["tool_timeout"]) == ("fast", 2.5)
    assert replaced.json()["instructions"] is None  # a replacement, not a patch
    assert http.get("/agents/crud").json()["model"] == "fast"

    deleted = http.delete("/agents/crud")
    assert deleted.json() == {"object": "agent.deleted", "name": "crud", "deleted": True}
    for gone in (http.get("/agents/crud"), http.delete("/agents/crud"), http.put("/agents/crud", json=agent("crud"))):
        assert gone.status_code == 404
        assert (error_of(gone)["code"], error_of(gone)["param"]) == ("agent_not_found", "name")
    assert "crud" not in {each["name"] for each in http.get("/agents").json()["data"]}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (agent("bad", colour="red"), "colour"),
        (agent("bad", tools=["weather_*", 5]), "tools[1]"),
        (agent("bad", max_rounds=0), "max_rounds"),
        (agent("bad", max_rounds="3"), "max_rounds"),
        (agent("bad", parallel_tool_calls=1.5), "parallel_tool_calls"),
        (agent("bad", tool_timeout=-1), "tool_timeout"),
        (agent("bad", describe_toolsets="yes"), "describe_toolsets"),
        ({"name": "bad"}, "model"),
        ({"model": "mock/tool"}, "name"),
        (agent("mock/tool"), "name"),
        (agent("no spaces"), "name"),
        (agent("x" * 65), "name"),
        (agent("bad", model="nowhere/model"), "model"),
        (agent("bad", model="no-such-alias"), "model"),
        (agent("bad", model="forecaster"), "model"),
    ],
)
def test_an_invalid_definition_is_400_naming_the_field(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    answer = http.post("/agents", json=body)

    assert answer.status_code == 400, answer.text
    assert error_of(answer)["param"] == param
    assert error_of(answer)["code"] == "invalid_agent_definition"
    assert http.get("/agents/bad").status_code == 404


def test_a_body_that_is_not_a_json_object_is_400(http: httpx.Client) -> None:
    for body in (b"{not json", b"[1, 2]", b""):
        answer = http.post("/agents", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert error_of(answer)["type"] == "invalid_request_error"


def test_names_in_use_are_409_and_config_agents_are_read_only(http: httpx.Client) -> None:
    assert http.post("/agents", json=agent("twice")).status_code == 201
    for name, code in (("twice", "agent_exists"), ("forecaster", "agent_exists"), ("fast", "agent_name_taken")):
        answer = http.post("/agents", json=agent(name))
        assert answer.status_code == 409, answer.text
        assert (error_of(answer)["code"], error_of(answer)["param"]) == (code, "name")
    for answer in (http.put("/agents/forecaster", json=agent("forecaster")), http.delete("/agents/forecaster")):
        assert answer.status_code == 409
        assert error_of(answer)["code"] == "agent_read_only"
    other = http.put("/agents/twice", json=agent("renamed"))
    assert (other.status_code, error_of(other)["param"]) == (400, "name")
    assert http.delete("/agents/twice").status_code == 200


def test_the_admin_api_needs_the_admin_key(api_router: RouterProcess, router: RouterProcess) -> None:
    calls = [("POST", "/agents"), ("GET", "/agents"), ("GET", "/agents/forecaster"), ("PUT", "/agents/x")]
    for method, path in [*calls, ("DELETE", "/agents/x")]:
        url = api_router.base_url + path
        none = httpx.request(method, url, json=agent("x"))
        assert none.status_code == 401
        assert error_of(none)["code"] == "invalid_api_key"
        wrong = httpx.request(method, url, json=agent("x"), headers={"authorization": "Bearer no"})
        assert wrong.status_code == 403
        assert error_of(wrong)["code"] == "invalid_admin_key"
    # A router without an admin key has the admin API off, whoever asks.
    off = httpx.post(f"{router.base_url}/agents", json=agent("x"), headers=admin())
    assert off.status_code == 403
    assert error_of(off)["code"] == "admin_disabled"


# ------------------------------------------------------------------------------- using a registered agent


def test_a_registered_agent_is_a_model_at_once_on_both_endpoints(http: httpx.Client, sdk: openai.OpenAI) -> None:
    assert http.post("/agents", json=agent("weatherman", description="Knows the weather.")).status_code == 201

    assert "weatherman" in {model.id for model in sdk.models.list()}
    assert sdk.models.retrieve("weatherman").owned_by == "llm-router"
    raw = sdk.chat.completions.with_raw_response.create(
        model="weatherman", messages=[{"role": "user", "content": WEATHER}]
    )
    assert raw.headers["x-llm-router-tool-rounds"] == "1"
    assert '"temperature": 21' in (raw.parse().choices[0].message.content or "")
    streamed = sdk.chat.completions.create(
        model="weatherman", messages=[{"role": "user", "content": WEATHER}], stream=True
    )
    assert '"temperature": 21' in "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    response = sdk.responses.create(model="weatherman", input=WEATHER)
    assert response.status == "completed"
    assert '"temperature": 21' in response.output_text


def test_a_replaced_agent_runs_its_new_definition_at_once(http: httpx.Client, sdk: openai.OpenAI) -> None:
    assert http.post("/agents", json=agent("changing")).status_code == 201

    def ask() -> Any:
        return sdk.chat.completions.with_raw_response.create(
            model="changing", messages=[{"role": "user", "content": WEATHER}]
        )

    assert ask().headers["x-llm-router-tool-rounds"] == "1"

    assert http.put("/agents/changing", json=agent("changing", tools=[])).status_code == 200

    raw = ask()
    assert raw.headers["x-llm-router-tool-rounds"] == "0"  # no tools of its own any more
    assert raw.parse().choices[0].finish_reason == "stop"


def test_a_deleted_agent_is_an_unknown_model_afterwards(http: httpx.Client, sdk: openai.OpenAI) -> None:
    assert http.post("/agents", json=agent("fleeting")).status_code == 201
    assert sdk.chat.completions.create(model="fleeting", messages=[{"role": "user", "content": WEATHER}]).choices

    assert http.delete("/agents/fleeting").status_code == 200

    with pytest.raises(openai.NotFoundError) as chat:
        sdk.chat.completions.create(model="fleeting", messages=[{"role": "user", "content": WEATHER}])
    assert chat.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError) as responses:
        sdk.responses.create(model="fleeting", input=WEATHER)
    assert responses.value.code == "model_not_found"
    assert "fleeting" not in {model.id for model in sdk.models.list()}


# ------------------------------------------------------------------------------- persistence and sharing


def test_api_agents_survive_a_restart_and_client_keys_apply(tmp_path: Path, tool_server: ToolServer) -> None:
    keys = f"""
[keys.agents]
sha256 = "{hash_key(CLIENT_KEY)}"
models = ["kept"]
tools = ["weather_*"]
"""
    path = write_config(tmp_path, tool_server, keys)
    client = {"authorization": f"Bearer {CLIENT_KEY}"}
    for first in (True, False):
        for router in run_router(tmp_path, {}, ("--config", str(path))):
            with httpx.Client(base_url=router.base_url, timeout=30) as http:
                if first:
                    # The admin key passes the client-key gate; a client key never opens the admin API.
                    assert http.post("/agents", json=agent("kept"), headers=admin()).status_code == 201
                    toolset = {"name": "kepttools", "kind": "http", "tools": [{"name": "call", "url": "http://a"}]}
                    assert http.post("/toolsets", json=toolset, headers=admin()).status_code == 201
                    refused = http.post("/agents", json=agent("other"), headers=client)
                    assert (refused.status_code, error_of(refused)["code"]) == (403, "invalid_admin_key")
                    continue
                assert http.get("/agents/kept", headers=admin()).json()["source"] == "api"
                # Both kinds of registration share the SQLite file, each in a table of its own.
                assert http.get("/toolsets/kepttools", headers=admin()).json()["source"] == "api"
                with openai.OpenAI(base_url=router.base_url, api_key=CLIENT_KEY, max_retries=0) as sdk:
                    assert [model.id for model in sdk.models.list()] == ["kept"]
                    answer = sdk.chat.completions.create(model="kept", messages=[{"role": "user", "content": WEATHER}])
                    assert '"temperature": 21' in (answer.choices[0].message.content or "")


def test_two_instances_share_agents_through_redis(tmp_path: Path, tool_server: ToolServer) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        path = write_config(tmp_path, tool_server)
        env = {"REDIS_URL": redis.url}
        one = run_router(tmp_path, env, ("--config", str(path)))
        two = run_router(tmp_path, env, ("--config", str(path)))
        first, second = next(one), next(two)
        try:
            with (
                httpx.Client(base_url=first.base_url, timeout=30, headers=admin()) as a,
                httpx.Client(base_url=second.base_url, timeout=30, headers=admin()) as b,
                openai.OpenAI(base_url=second.base_url, api_key="unused", max_retries=0) as sdk_b,
            ):
                assert a.post("/agents", json=agent("shared")).status_code == 201
                within_a_second(lambda: b.get("/agents/shared").status_code == 200, "registered on the other")
                answer = sdk_b.chat.completions.create(model="shared", messages=[{"role": "user", "content": WEATHER}])
                assert '"temperature": 21' in (answer.choices[0].message.content or "")
                assert b.post("/agents", json=agent("shared")).status_code == 409  # one name across instances

                assert b.put("/agents/shared", json=agent("shared", max_rounds=7)).status_code == 200
                within_a_second(lambda: a.get("/agents/shared").json()["max_rounds"] == 7, "replaced on the other")
                assert b.delete("/agents/shared").status_code == 200
                within_a_second(lambda: a.get("/agents/shared").status_code == 404, "deleted on the other")
                gone = httpx.post(
                    f"{first.base_url}/chat/completions",
                    json={"model": "shared", "messages": [{"role": "user", "content": WEATHER}]},
                    timeout=30,
                )
                assert (gone.status_code, error_of(gone)["code"]) == (404, "model_not_found")
        finally:
            one.close()
            two.close()
    finally:
        redis.stop()
