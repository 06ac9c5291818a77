"""The Responses API's `mcp` tool, and agents through the Responses API, over real HTTP.

The router runs registry toolsets for a request that names them in an `mcp` tool: the official MCP SDK's
server (`calc`, an `mcp` toolset) and an HTTP tool server (`weather`, an `http` toolset), behind the mock
provider and the scripted upstream. What is asserted is what a client sees (the output items and stream
events, each valid against OpenAI's schemas and in OpenAI's order), what the tool servers received, and what
the model was told (the scripted upstream records the conversation). The OpenAI Agents SDK drives the same
tool through its `HostedMCPTool`, approval flow included.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest
from openai.types.responses.response_output_item import McpCall

from app.access import hash_key
from tests.e2e.tools.servers import ToolServer, run_mcp_server
from tests.e2e.upstreams import OpenRouterDialect
from tests.support.openapi import assert_valid
from tests.support.processes import run_router
from tests.support.responses import assert_event_stream

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

KEY = "sk-mcp-e2e-every-tool"
WEATHER_KEY = "sk-mcp-e2e-weather-only"
CURRENT_KEY = "sk-mcp-e2e-current-only"
SUM = "What is 2 plus 2?"
ARGS = {"location": "Paris, France", "unit": "celsius"}  # the scripted upstream's call


@pytest.fixture(scope="module")
def tool_server() -> Iterator[ToolServer]:
    server = ToolServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mcp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from run_mcp_server(tmp_path_factory.mktemp("mcp"))


def config(tool_server: ToolServer, mcp_url: str, database: str) -> str:
    lookup = (
        'parameters = { type = "object", properties = { location = { type = "string" }, unit = { type = "string" } },'
        ' required = ["location"] }'
    )
    current = 'parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }'
    return f"""
[tools]
database = "{database}"
mcp_server_urls = ["http://127.0.0.1:*/mcp"]

[keys.every]
sha256 = "{hash_key(KEY)}"
tools = ["*"]

[keys.weather]
sha256 = "{hash_key(WEATHER_KEY)}"
tools = ["weather_*"]

[keys.current]
sha256 = "{hash_key(CURRENT_KEY)}"
tools = ["weather_current"]

[toolsets.calc]
kind = "mcp"
url = "{mcp_url}"
description = "A calculator."

[toolsets.weather]
kind = "http"

[[toolsets.weather.tools]]
name = "lookup"
description = "The weather at a place."
url = "{tool_server.url("/weather")}"
{lookup}

[[toolsets.weather.tools]]
name = "current"
description = "The weather now in a city."
url = "{tool_server.url("/weather")}"
{current}

[toolsets.almanac]
kind = "http"

[[toolsets.almanac.tools]]
name = "current"
description = "The weather now in a city, from the almanac."
url = "{tool_server.url("/weather")}"
{current}

[agents.forecaster]
model = "mock/tool"
tools = ["weather_current"]

[agents.thinker]
model = "openrouter/vendor/reasoning"
tools = ["weather_lookup"]
"""


@pytest.fixture(scope="module")
def mcp_router(
    upstream: Upstream, tool_server: ToolServer, mcp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RouterProcess]:
    directory = tmp_path_factory.mktemp("mcp-router")
    path = directory / "router.toml"
    path.write_text(config(tool_server, mcp_url, str(directory / "tools.sqlite3")), "utf-8")
    env = {"OPENROUTER_API_KEY": OpenRouterDialect.key, "OPENROUTER_BASE_URL": upstream.base_url("openrouter")}
    for router in run_router(directory, env, ("--config", str(path))):
        listed = httpx.get(f"{router.base_url}/tools", headers=auth(KEY), timeout=10).json()["data"]
        assert "calc_add" in {tool["name"] for tool in listed}, listed
        yield router


@pytest.fixture
def sdk(mcp_router: RouterProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mcp_router.base_url, api_key=KEY, max_retries=0) as client:
        yield client


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def calc(**fields: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "calc", **fields}


def weather(**fields: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "weather", **fields}


def create(client: openai.OpenAI, *, stream: bool, **request: Any) -> dict[str, Any]:
    """One answer as JSON, validated: the response, or the final response of a valid stream."""
    if not stream:
        body: dict[str, Any] = client.responses.create(**request).to_dict(mode="json")
        assert_valid(body, "Response")
        return body
    with client.responses.create(stream=True, **request) as events:
        received = [event.to_dict(mode="json") for event in events]
    return assert_event_stream(received)


def stream_events(router: RouterProcess, key: str = KEY, **request: Any) -> list[dict[str, Any]]:
    with (
        openai.OpenAI(base_url=router.base_url, api_key=key, max_retries=0) as client,
        client.responses.create(stream=True, **request) as events,
    ):
        received = [event.to_dict(mode="json") for event in events]
    assert_event_stream(received)
    return received


def post(router: RouterProcess, key: str = KEY, **request: Any) -> httpx.Response:
    return httpx.post(f"{router.base_url}/responses", json=request, headers=auth(key), timeout=30)


def types(response: dict[str, Any]) -> list[str]:
    return [item["type"] for item in response["output"]]


def text(response: dict[str, Any]) -> str:
    (message,) = [item for item in response["output"] if item["type"] == "message"]
    return "".join(part["text"] for part in message["content"])


def without_ids(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [{key: value for key, value in item.items() if key != "id"} for item in response["output"]]


def seen_by_upstream(upstream: Upstream, marker: str, which: int = -1) -> list[dict[str, Any]]:
    """The chat messages of an OpenRouter request (the last, by default) whose last user message is `marker`."""
    bodies = [
        received.body
        for received in upstream.received
        if received.dialect == "openrouter" and received.marker == marker
    ]
    assert bodies, f"the upstream never saw {marker!r}"
    messages: list[dict[str, Any]] = bodies[which]["messages"]
    return messages


# --------------------------------------------------------------------------------------------- never


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_never_lists_the_tools_runs_the_call_and_answers(sdk: openai.OpenAI, stream: bool) -> None:
    response = create(
        sdk,
        stream=stream,
        model="mock/tool",
        input=SUM,
        tools=[calc(require_approval="never", allowed_tools=["add"])],
    )

    assert types(response) == ["mcp_list_tools", "mcp_call", "message"]
    listing, call, _ = response["output"]
    assert listing["server_label"] == "calc"
    assert listing["error"] is None
    (listed,) = listing["tools"]
    assert listed["name"] == "add"
    assert listed["description"] == "Add two integers."
    assert listed["input_schema"]["required"] == ["a", "b"]
    assert listed["annotations"]["readOnlyHint"] is True
    assert (call["server_label"], call["name"], call["status"]) == ("calc", "add", "completed")
    assert json.loads(call["arguments"]) == {"a": 2, "b": 2}
    assert call["output"] == "4"
    assert call["error"] is None
    assert call["approval_request_id"] is None
    assert text(response) == "The tool returned: 4"
    assert response["tools"] == [
        {"type": "mcp", "server_label": "calc", "headers": None, "allowed_tools": ["add"], "require_approval": "never"}
    ]


def test_the_stream_says_each_step_of_a_call_in_openais_order(mcp_router: RouterProcess) -> None:
    events = stream_events(
        mcp_router, model="mock/tool", input=SUM, tools=[calc(require_approval="never", allowed_tools=["add"])]
    )

    steps = [(event["type"], event.get("output_index")) for event in events]
    assert steps[:6] == [
        ("response.created", None),
        ("response.in_progress", None),
        ("response.output_item.added", 0),
        ("response.mcp_list_tools.in_progress", 0),
        ("response.mcp_list_tools.completed", 0),
        ("response.output_item.done", 0),
    ]
    assert steps[6:12] == [
        ("response.output_item.added", 1),
        ("response.mcp_call.in_progress", 1),
        ("response.mcp_call_arguments.delta", 1),
        ("response.mcp_call_arguments.done", 1),
        ("response.mcp_call.completed", 1),
        ("response.output_item.done", 1),
    ]
    assert steps[12] == ("response.output_item.added", 2)
    assert steps[-1] == ("response.completed", None)


def test_streamed_and_whole_responses_agree(sdk: openai.OpenAI) -> None:
    request: dict[str, Any] = {
        "model": "mock/tool",
        "input": SUM,
        "tools": [calc(require_approval="never", allowed_tools=["add"])],
    }

    assert without_ids(create(sdk, stream=False, **request)) == without_ids(create(sdk, stream=True, **request))


def test_a_failing_tool_is_an_mcp_call_with_its_error(sdk: openai.OpenAI) -> None:
    response = create(
        sdk,
        stream=True,
        model="mock/tool",
        input="Go.",
        tools=[calc(require_approval="never", allowed_tools=["broken"])],
    )

    call = response["output"][1]
    assert (call["type"], call["name"], call["status"], call["output"]) == ("mcp_call", "broken", "failed", None)
    assert call["error"]["type"] == "mcp_tool_execution_error"
    # The SDK's server says no more than this of an exception.
    assert call["error"]["content"] == [{"type": "text", "text": "Error executing tool broken"}]


def test_arguments_the_tool_refuses_are_a_protocol_error(sdk: openai.OpenAI) -> None:
    # The scripted upstream calls the first tool with a location, which `add` does not take.
    response = create(
        sdk,
        stream=False,
        model="openrouter/vendor/tool",
        input="Add these.",
        tools=[calc(require_approval="never", allowed_tools=["add"])],
    )

    call = response["output"][1]
    assert call["status"] == "failed"
    assert call["error"]["type"] == "mcp_protocol_error"
    assert call["error"]["code"] == -32602


def test_allowed_tools_lists_and_offers_only_those_under_their_own_names(
    sdk: openai.OpenAI, upstream: Upstream
) -> None:
    marker = "Echo 'bonjour', please."
    response = create(
        sdk,
        stream=False,
        model="openrouter/vendor/text",
        input=marker,
        tools=[calc(require_approval="never", allowed_tools=["text.echo"])],
    )

    assert [tool["name"] for tool in response["output"][0]["tools"]] == ["text.echo"]
    offered = [tool["function"]["name"] for tool in upstream.last("openrouter").body["tools"]]
    assert offered == ["calc_text_echo"]


def test_read_only_selects_tools_by_their_annotation(sdk: openai.OpenAI) -> None:
    response = create(
        sdk,
        stream=False,
        model="mock/parallel",
        input=SUM,
        tools=[calc(require_approval="never", allowed_tools={"read_only": True})],
    )

    assert [tool["name"] for tool in response["output"][0]["tools"]] == ["add"]
    assert {item["name"] for item in response["output"] if item["type"] == "mcp_call"} == {"add"}


# ------------------------------------------------------------------------------------------- approval


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_always_asks_first_then_runs_the_approved_call(sdk: openai.OpenAI, stream: bool) -> None:
    tools = [calc(allowed_tools=["add"])]  # require_approval defaults to "always"
    first = create(sdk, stream=stream, model="mock/tool", input=SUM, tools=tools)

    assert types(first) == ["mcp_list_tools", "mcp_approval_request"]
    request = first["output"][1]
    assert (request["server_label"], request["name"]) == ("calc", "add")
    assert json.loads(request["arguments"]) == {"a": 2, "b": 2}
    assert request["id"].startswith("mcpr_")

    second = create(
        sdk,
        stream=stream,
        model="mock/tool",
        tools=tools,
        previous_response_id=first["id"],
        input=[{"type": "mcp_approval_response", "approval_request_id": request["id"], "approve": True}],
    )

    # The server was listed in the first response: it is not listed again.
    assert types(second) == ["mcp_call", "message"]
    call = second["output"][0]
    assert (call["name"], call["output"], call["approval_request_id"]) == ("add", "4", request["id"])
    assert text(second) == "The tool returned: 4"

    third = create(
        sdk, stream=stream, model="mock/tool", tools=tools, previous_response_id=second["id"], input="Thanks"
    )
    assert types(third) == ["mcp_approval_request"]  # a new call, asked for again; the old one is settled


def test_the_model_sees_an_approved_call_and_its_result(sdk: openai.OpenAI, upstream: Upstream) -> None:
    marker = "Weather in Paris, once approved?"
    tools = [weather(allowed_tools=["lookup"])]
    first = create(sdk, stream=False, model="openrouter/vendor/tool", input=marker, tools=tools)
    request = first["output"][1]

    second = create(
        sdk,
        stream=False,
        model="openrouter/vendor/tool",
        tools=tools,
        previous_response_id=first["id"],
        input=[{"type": "mcp_approval_response", "approval_request_id": request["id"], "approve": True}],
    )

    messages = seen_by_upstream(upstream, marker)
    assert [message["role"] for message in messages] == ["user", "assistant", "tool"]
    (tool_call,) = messages[1]["tool_calls"]
    assert tool_call["id"] == request["id"]
    assert tool_call["function"]["name"] == "weather_lookup"
    assert json.loads(tool_call["function"]["arguments"]) == ARGS
    assert json.loads(messages[2]["content"]) == {"city": None, "temperature": 21}
    assert second["output"][0]["output"] == messages[2]["content"]
    assert text(second).startswith("The tool said:")


def test_a_declined_call_is_not_run_and_the_model_is_told(
    sdk: openai.OpenAI, upstream: Upstream, tool_server: ToolServer
) -> None:
    marker = "Weather in Paris, if you may?"
    tools = [weather(allowed_tools=["lookup"])]
    first = create(sdk, stream=True, model="openrouter/vendor/tool", input=marker, tools=tools)
    request_id = first["output"][1]["id"]
    calls_before = len(tool_server.received)

    second = create(
        sdk,
        stream=True,
        model="openrouter/vendor/tool",
        tools=tools,
        previous_response_id=first["id"],
        input=[{"type": "mcp_approval_response", "approval_request_id": request_id, "approve": False, "reason": "No."}],
    )

    assert types(second) == ["message"]
    assert len(tool_server.received) == calls_before
    messages = seen_by_upstream(upstream, marker)
    assert [message["role"] for message in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == request_id
    assert messages[2]["content"] == "The user declined to run this tool call. Reason: No."


def test_an_approval_for_a_request_the_conversation_does_not_hold_is_a_400(mcp_router: RouterProcess) -> None:
    response = post(
        mcp_router,
        model="mock/tool",
        tools=[calc()],
        input=[
            {"role": "user", "content": SUM},
            {"type": "mcp_approval_response", "approval_request_id": "mcpr_unknown", "approve": True},
        ],
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input[1].approval_request_id"


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_the_per_tool_form_asks_only_for_what_it_says(sdk: openai.OpenAI, stream: bool) -> None:
    response = create(
        sdk,
        stream=stream,
        model="mock/parallel",
        input="Add 2 and 2, and echo 'hi'.",
        tools=[calc(allowed_tools=["add", "text.echo"], require_approval={"never": {"tool_names": ["add"]}})],
    )

    assert types(response) == ["mcp_list_tools", "mcp_call", "mcp_approval_request"]
    assert response["output"][1]["name"] == "add"
    assert response["output"][1]["output"] == "4"
    assert response["output"][2]["name"] == "text.echo"
    assert json.loads(response["output"][2]["arguments"]) == {"text": "hi"}


# ------------------------------------------------------------------------------------ server_url and keys


def test_a_server_url_off_the_allow_list_is_refused(mcp_router: RouterProcess) -> None:
    response = post(
        mcp_router, model="mock/tool", input=SUM, tools=[calc(server_url="http://169.254.169.254/latest/mcp")]
    )

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "tools[0].server_url"
    assert "mcp_server_urls" in error["message"]


def test_an_allowed_server_url_must_be_the_toolsets_own(mcp_router: RouterProcess, mcp_url: str) -> None:
    port = int(mcp_url.split(":")[2].split("/")[0])
    elsewhere = post(
        mcp_router, model="mock/tool", input=SUM, tools=[calc(server_url=f"http://127.0.0.1:{port + 1}/mcp")]
    )
    its_own = post(
        mcp_router,
        model="mock/tool",
        input=SUM,
        tools=[calc(server_url=mcp_url, require_approval="never", allowed_tools=["add"])],
    )

    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"]["param"] == "tools[0].server_url"
    assert its_own.status_code == 200, its_own.text
    assert its_own.json()["output"][1]["output"] == "4"


def test_an_unknown_server_label_is_refused(mcp_router: RouterProcess) -> None:
    response = post(mcp_router, model="mock/tool", input=SUM, tools=[{"type": "mcp", "server_label": "nowhere"}])

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tools[0].server_label"


def test_a_key_reaches_only_the_tools_it_is_allowed(mcp_router: RouterProcess) -> None:
    hidden = post(mcp_router, WEATHER_KEY, model="mock/tool", input=SUM, tools=[calc(require_approval="never")])
    too_many = post(mcp_router, CURRENT_KEY, model="mock/tool", input="Weather in 'Oslo'?", tools=[weather()])
    enough = post(
        mcp_router,
        CURRENT_KEY,
        model="mock/tool",
        input="Weather in 'Oslo'?",
        tools=[weather(allowed_tools=["current"], require_approval="never")],
    )

    assert hidden.status_code == 400
    assert hidden.json()["error"]["param"] == "tools[0].server_label"
    assert too_many.status_code == 403
    assert too_many.json()["error"]["code"] == "tool_not_allowed"
    assert too_many.json()["error"]["param"] == "tools[0].allowed_tools"
    assert enough.status_code == 200, enough.text
    assert enough.json()["output"][1]["name"] == "current"


def test_headers_go_to_that_server_only_and_are_never_echoed(
    mcp_router: RouterProcess, sdk: openai.OpenAI, tool_server: ToolServer
) -> None:
    before = len(tool_server.received)
    response = post(
        mcp_router,
        model="mock/parallel",
        input="Weather in 'Oslo'?",
        tools=[
            weather(
                allowed_tools=["current"],
                require_approval="never",
                headers={"X-Tenant": "tenant-7"},
                authorization="secret-token-123",
            ),
            {"type": "mcp", "server_label": "almanac", "require_approval": "never"},
        ],
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert {item["server_label"] for item in body["output"] if item["type"] == "mcp_call"} == {"weather", "almanac"}
    received = [
        {name.lower(): value for name, value in call["headers"].items()} for call in tool_server.received[before:]
    ]
    tenants = sorted(headers.get("x-tenant", "-") for headers in received)
    tokens = sorted(headers.get("authorization", "-") for headers in received)
    assert tenants == ["-", "tenant-7"]
    assert tokens == ["-", "Bearer secret-token-123"]
    stored = sdk.responses.retrieve(body["id"]).to_dict(mode="json")
    for shown in (response.text, json.dumps(stored)):
        assert "secret-token-123" not in shown
        assert "tenant-7" not in shown


def test_function_tools_mixed_in_go_back_to_the_client(sdk: openai.OpenAI) -> None:
    book = {"type": "function", "name": "book_table", "parameters": {"type": "object", "properties": {}}}
    response = create(
        sdk,
        stream=True,
        model="mock/parallel",
        input=SUM,
        tools=[book, calc(require_approval="never", allowed_tools=["add"])],
    )

    assert sorted(types(response)) == ["function_call", "mcp_call", "mcp_list_tools"]
    (call,) = [item for item in response["output"] if item["type"] == "function_call"]
    assert call["name"] == "book_table"


def test_an_agent_model_takes_no_mcp_tools(mcp_router: RouterProcess) -> None:
    response = post(mcp_router, model="forecaster", input=SUM, tools=[calc()])

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tools[0]"


# -------------------------------------------------------------------------------- agents, as mcp_call items


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_an_agents_calls_are_mcp_call_items(sdk: openai.OpenAI, stream: bool) -> None:
    response = create(sdk, stream=stream, model="forecaster", input="Weather in 'Oslo'?")

    assert types(response) == ["mcp_call", "message"]
    call = response["output"][0]
    assert (call["server_label"], call["name"], call["status"]) == ("weather", "current", "completed")
    assert json.loads(call["arguments"]) == {"city": "Oslo"}
    assert json.loads(call["output"]) == {"city": "Oslo", "temperature": 21}
    assert '"temperature": 21' in text(response)


def test_an_agents_items_keep_the_order_things_happened(sdk: openai.OpenAI) -> None:
    response = create(sdk, stream=True, model="thinker", input="Think, then look up the weather.")

    assert types(response) == ["reasoning", "mcp_call", "reasoning", "message"]


def test_continuing_an_agents_response_gives_the_model_its_calls(sdk: openai.OpenAI, upstream: Upstream) -> None:
    first = create(sdk, stream=False, model="thinker", input="Look the weather up for me.")
    call = first["output"][1]

    create(sdk, stream=False, model="thinker", previous_response_id=first["id"], input="And the day after?")

    messages = seen_by_upstream(upstream, "And the day after?", 0)  # the continuation's first round
    assert [message["role"] for message in messages] == ["user", "assistant", "tool", "assistant", "user"]
    (tool_call,) = messages[1]["tool_calls"]
    assert tool_call["function"]["name"] == "weather_lookup"
    assert messages[2] == {"role": "tool", "content": call["output"], "tool_call_id": tool_call["id"]}
    assert messages[3]["content"] == text(first)


# ------------------------------------------------------------------------------------- the Agents SDK


async def test_the_agents_sdk_hosted_mcp_tool_runs_through_the_router(mcp_router: RouterProcess) -> None:
    from agents import (
        Agent,
        HostedMCPTool,
        MCPToolApprovalFunctionResult,
        MCPToolApprovalRequest,
        Runner,
        set_tracing_disabled,
    )
    from agents.models.openai_responses import OpenAIResponsesModel

    set_tracing_disabled(True)  # the SDK would send traces to OpenAI
    asked: list[str] = []

    def approve(request: MCPToolApprovalRequest) -> MCPToolApprovalFunctionResult:
        asked.append(request.data.name)
        return {"approve": True}

    client = openai.AsyncOpenAI(base_url=mcp_router.base_url, api_key=KEY, max_retries=0)
    tool = HostedMCPTool(
        tool_config={"type": "mcp", "server_label": "calc", "allowed_tools": ["add"]}, on_approval_request=approve
    )
    agent = Agent(
        name="calculator",
        instructions="Use the calculator.",
        model=OpenAIResponsesModel(model="mock/tool", openai_client=client),
        tools=[tool],
    )
    try:
        result = await Runner.run(agent, SUM)
    finally:
        await client.close()

    assert asked == ["add"]
    assert result.final_output == "The tool returned: 4"
    kinds = [item.type for item in result.new_items]
    assert "mcp_list_tools_item" in kinds
    assert "mcp_approval_request_item" in kinds


async def test_the_agents_sdk_without_approval(mcp_router: RouterProcess) -> None:
    from agents import Agent, HostedMCPTool, Runner, set_tracing_disabled
    from agents.models.openai_responses import OpenAIResponsesModel

    set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=mcp_router.base_url, api_key=KEY, max_retries=0)
    tool = HostedMCPTool(
        tool_config={"type": "mcp", "server_label": "calc", "allowed_tools": ["add"], "require_approval": "never"}
    )
    agent = Agent(name="calculator", model=OpenAIResponsesModel(model="mock/tool", openai_client=client), tools=[tool])
    try:
        result = await Runner.run(agent, SUM)
        streamed = Runner.run_streamed(agent, SUM)
        async for _ in streamed.stream_events():
            pass
    finally:
        await client.close()

    assert result.final_output == "The tool returned: 4"
    assert streamed.final_output == "The tool returned: 4"
    calls = [item.raw_item for item in result.new_items if item.type == "tool_call_item"]
    assert [(call.type, call.name, call.output) for call in calls if isinstance(call, McpCall)] == [
        ("mcp_call", "add", "4")
    ]
    assert len(calls) == 1


# ----------------------------------------------------------------------------------------- tool_choice


def test_tool_choice_forces_a_servers_tool_and_an_approval_ends_it(sdk: openai.OpenAI) -> None:
    tools = [calc(allowed_tools=["add", "text.echo"])]
    choice = {"type": "mcp", "server_label": "calc", "name": "text.echo"}
    first = create(sdk, stream=False, model="mock/tool", input="Echo 'hi'.", tools=tools, tool_choice=choice)

    assert first["tool_choice"] == choice
    request = first["output"][1]
    assert (request["type"], request["name"]) == ("mcp_approval_request", "text.echo")

    second = create(
        sdk,
        stream=False,
        model="mock/tool",
        tools=tools,
        tool_choice=choice,
        previous_response_id=first["id"],
        input=[{"type": "mcp_approval_response", "approval_request_id": request["id"], "approve": True}],
    )

    # The choice forced the call just approved: the model is not forced to make it again.
    assert types(second) == ["mcp_call", "message"]
    assert second["output"][0]["output"] == "hi"


def test_tool_choice_naming_a_tool_the_server_does_not_offer_is_a_400(mcp_router: RouterProcess) -> None:
    response = post(
        mcp_router,
        model="mock/tool",
        input=SUM,
        tools=[calc(allowed_tools=["add"])],
        tool_choice={"type": "mcp", "server_label": "calc", "name": "text.echo"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tool_choice.name"
