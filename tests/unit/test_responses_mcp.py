"""The Responses API's `mcp` tool in pieces: its decoding, its resolution against the registry, the calls the
router runs as output items and stream events, and the conversation they make for the model."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from app.access.keys import ClientKey
from app.pipeline.events import (
    ApprovalRequested,
    ChoiceFinished,
    ChoiceStarted,
    TextDelta,
    ToolExecuted,
    ToolFailure,
    ToolRunning,
    TurnStarted,
)
from app.responses.decode import decode_request
from app.responses.from_chat import new_response
from app.responses.mcp import request_servers
from app.responses.stream import ResponseEventWriter, render
from app.responses.to_chat import chat_request
from app.schemas import SchemaCompiler
from app.settings import ToolSettings
from app.tools.definitions import parse_definition
from app.tools.kinds.base import ToolSpec
from app.tools.toolsets import Toolset, build_tools
from providers.errors import InvalidRequest, PermissionDenied
from tests.support.openapi import assert_valid
from tests.support.responses import assert_event_stream

if TYPE_CHECKING:
    from app.pipeline.events import AnswerEvent
    from app.tools.registry import ToolRegistry

MCP_URL = "http://127.0.0.1:9/mcp"
ADD = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}

SCHEMAS = SchemaCompiler()


def parsed(**request: Any) -> Any:
    return decode_request(json.dumps({"model": "mock/tool", "input": "Hi", **request}).encode(), SCHEMAS)


def refused(**request: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        parsed(**request)
    return raised.value


class Registry:
    """The registry as the `mcp` tool reads it: its toolsets, and its settings."""

    def __init__(self, *, urls: tuple[str, ...] = ()) -> None:
        self.settings = ToolSettings(mcp_server_urls=list(urls))
        definition = parse_definition(
            {"name": "calc", "kind": "mcp", "url": MCP_URL}, allow_private_networks=True, schemas=SCHEMAS
        )
        specs = [
            ToolSpec(name="add", description="Add.", parameters=ADD, annotations={"readOnlyHint": True}),
            ToolSpec(name="text.echo", description="Echo."),
            ToolSpec(name="erase"),
        ]
        self._toolsets = [Toolset(definition, "config", None, build_tools(definition, specs, self.settings, SCHEMAS))]  # type: ignore[arg-type]

    def toolsets(self) -> list[Toolset]:
        return self._toolsets


def servers(mcp: dict[str, Any], *, client: ClientKey | None = None, urls: tuple[str, ...] = ()) -> Any:
    registry: ToolRegistry = Registry(urls=urls)  # type: ignore[assignment]
    return request_servers(parsed(tools=[{"type": "mcp", "server_label": "calc", **mcp}]), registry, client)


def approvals(mcp: dict[str, Any]) -> dict[str, bool]:
    toolbox = servers(mcp).toolbox([])
    return {use.tool.server_name: use.needs_approval for use in toolbox.tools.values()}


# ------------------------------------------------------------------------------------------------ decoding


def test_connectors_and_tunnels_are_refused_by_name() -> None:
    for field in ("connector_id", "tunnel_id"):
        error = refused(tools=[{"type": "mcp", "server_label": "calc", field: "x"}])
        assert error.param == f"tools[0].{field}"


def test_two_mcp_tools_may_not_share_a_label() -> None:
    error = refused(tools=[{"type": "mcp", "server_label": "calc"}, {"type": "mcp", "server_label": "calc"}])

    assert error.param == "tools[1].server_label"


def test_an_mcp_tool_choice_needs_its_mcp_tool() -> None:
    error = refused(tool_choice={"type": "mcp", "server_label": "calc"})

    assert error.param == "tool_choice.server_label"


@pytest.mark.parametrize("kind", [{}, [], 1, None])
def test_a_tool_choice_whose_type_is_not_a_name_is_a_400(kind: Any) -> None:
    assert refused(tool_choice={"type": kind, "name": "f"}).param == "tool_choice.type"


def test_a_filter_with_a_field_openai_does_not_define_is_refused() -> None:
    error = refused(tools=[{"type": "mcp", "server_label": "calc", "allowed_tools": {"names": ["add"]}}])

    assert error.param is not None
    assert error.param.startswith("tools[0]")


# ---------------------------------------------------------------------------------------------- resolving


def test_require_approval_defaults_to_always() -> None:
    assert approvals({}) == {"add": True, "text.echo": True, "erase": True}
    assert approvals({"require_approval": "never"}) == {"add": False, "text.echo": False, "erase": False}


def test_the_per_tool_form() -> None:
    assert approvals({"require_approval": {"never": {"tool_names": ["add"]}}}) == {
        "add": False,
        "text.echo": True,
        "erase": True,
    }
    assert approvals({"require_approval": {"always": {"tool_names": ["erase"]}}}) == {
        "add": False,
        "text.echo": False,
        "erase": True,
    }
    assert approvals({"require_approval": {"never": {"read_only": True}, "always": {"tool_names": ["add"]}}}) == {
        "add": True,
        "text.echo": True,
        "erase": True,
    }


def test_allowed_tools_by_name_or_by_read_only() -> None:
    def offered(allowed: Any) -> list[str]:
        return sorted(use.tool.server_name for use in servers({"allowed_tools": allowed}).toolbox([]).tools.values())

    assert offered(["text.echo"]) == ["text.echo"]
    assert offered({"read_only": True}) == ["add"]
    assert offered({"read_only": False}) == ["erase", "text.echo"]
    assert offered({"tool_names": ["add", "erase"], "read_only": False}) == ["erase"]


def test_the_model_calls_a_tool_by_its_registry_name() -> None:
    toolbox = servers({}).toolbox([])

    assert sorted(toolbox.tools) == ["calc_add", "calc_erase", "calc_text_echo"]
    assert toolbox.source == "responses"


def test_server_url_must_be_allowed_and_the_toolsets_own() -> None:
    with pytest.raises(InvalidRequest) as off_list:
        servers({"server_url": MCP_URL})
    with pytest.raises(InvalidRequest) as elsewhere:
        servers({"server_url": "http://127.0.0.1:10/mcp"}, urls=("http://127.0.0.1:*",))

    assert off_list.value.param == elsewhere.value.param == "tools[0].server_url"
    assert servers({"server_url": MCP_URL + "/"}, urls=("http://127.0.0.1:*",)).servers


def test_headers_the_router_sets_are_refused() -> None:
    for name in ("Host", "Content-Length", "Mcp-Session-Id", "Bad Name"):
        with pytest.raises(InvalidRequest) as raised:
            servers({"headers": {name: "x"}})
        assert raised.value.param == "tools[0].headers"
    with pytest.raises(InvalidRequest) as split:
        servers({"headers": {"X-A": "a\r\nHost: evil"}})
    assert split.value.param == "tools[0].headers"


def test_authorization_becomes_a_bearer_header_for_that_server() -> None:
    toolbox = servers({"authorization": "tok", "headers": {"X-Tenant": "7"}}).toolbox([])

    assert {name: dict(use.headers or {}) for name, use in toolbox.tools.items()}["calc_add"] == {
        "X-Tenant": "7",
        "Authorization": "Bearer tok",
    }


def test_a_key_must_be_allowed_every_tool_offered() -> None:
    some = ClientKey(name="some", digest=b"", tools=("calc_add",))
    none = ClientKey(name="none", digest=b"", tools=("weather_*",))

    with pytest.raises(PermissionDenied) as raised:
        servers({}, client=some)
    assert raised.value.param == "tools[0].allowed_tools"
    assert servers({"allowed_tools": ["add"]}, client=some).servers
    with pytest.raises(InvalidRequest) as unknown:
        servers({}, client=none)
    assert unknown.value.param == "tools[0].server_label"


# ------------------------------------------------------------------------------------------------ rendering


def events_of(batches: list[list[AnswerEvent]], **request: Any) -> list[dict[str, Any]]:
    writer = ResponseEventWriter(new_response(parsed(**request)))
    events = [event for batch in batches for event in writer.feed(batch)] + writer.finish()
    return [json.loads(msgspec.json.encode(event)) for event in events]


def turn(*events: AnswerEvent) -> list[AnswerEvent]:
    return [TurnStarted("chatcmpl-1", 1, "mock/tool"), ChoiceStarted(0, "", None), *events]


RUNNING = ToolRunning("call_1", "calc", "add", '{"a": 2}')
EXECUTED = ToolExecuted("call_1", "calc", "add", '{"a": 2}', "4")


def test_a_message_before_the_calls_stays_before_them() -> None:
    events = events_of(
        [
            turn(TextDelta(0, "Let me add.")),
            [RUNNING],
            [EXECUTED],
            # The loop's blank line between two rounds' texts is chat's: here the rounds are items of their own.
            turn(TextDelta(0, "\n\n"), TextDelta(0, "It is 4."), ChoiceFinished(0, "stop")),
        ]
    )

    final = assert_event_stream(events)
    assert [item["type"] for item in final["output"]] == ["message", "mcp_call", "message"]
    assert [item["content"][0]["text"] for item in final["output"] if item["type"] == "message"] == [
        "Let me add.",
        "It is 4.",
    ]
    assert final["output"][1]["output"] == "4"


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (
            ToolFailure("tool", "boom"),
            {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": "boom"}]},
        ),
        (ToolFailure("protocol", "bad", -32602), {"type": "mcp_protocol_error", "code": -32602, "message": "bad"}),
        (ToolFailure("http", "down", 502), {"type": "http_error", "code": 502, "message": "down"}),
    ],
)
def test_each_kind_of_failure_is_its_own_error(failure: ToolFailure, error: dict[str, Any]) -> None:
    failed = msgspec.structs.replace(EXECUTED, failure=failure)
    events = events_of([turn(), [RUNNING], [failed], [ChoiceFinished(0, "stop")]])

    final = assert_event_stream(events)
    call = final["output"][0]
    assert (call["status"], call["output"], call["error"]) == ("failed", None, error)
    assert "response.mcp_call.failed" in [event["type"] for event in events]


def test_a_response_waiting_for_approval_ends_with_the_request() -> None:
    events = events_of([turn(), [ApprovalRequested("calc", "add", "{}")], [ChoiceFinished(0, "stop")]])

    final = assert_event_stream(events)
    assert [item["type"] for item in final["output"]] == ["mcp_approval_request"]
    assert final["output"][0]["id"].startswith("mcpr_")


def test_calls_approved_before_the_first_turn_still_start_the_response_first() -> None:
    approved = msgspec.structs.replace(RUNNING, approval_request_id="mcpr_1")
    done = msgspec.structs.replace(EXECUTED, approval_request_id="mcpr_1")
    events = events_of([[approved], [done], turn(TextDelta(0, "4."), ChoiceFinished(0, "stop"))])

    final = assert_event_stream(events)
    assert final["output"][0]["approval_request_id"] == "mcpr_1"
    assert final["model"] == "mock/tool"


def test_a_failed_listing_says_so_and_the_whole_response_matches_the_stream() -> None:
    from app.responses.items import MCPListTools

    listing = MCPListTools(id="mcpl_1", server_label="calc", tools=[], error="The server did not answer.")
    batches = [turn(TextDelta(0, "Hi."), ChoiceFinished(0, "stop"))]
    writer = ResponseEventWriter(new_response(parsed()), [listing])
    events = [event for batch in batches for event in writer.feed(batch)] + writer.finish()
    streamed = assert_event_stream([json.loads(msgspec.json.encode(event)) for event in events])
    whole = json.loads(msgspec.json.encode(render(new_response(parsed()), batches, [listing])))

    assert "response.mcp_list_tools.failed" in [type(event).__struct_config__.tag for event in events]
    assert_valid(whole, "Response")
    assert whole["output"][0] == streamed["output"][0] == msgspec.to_builtins(listing)


def test_the_echoed_tool_keeps_no_credentials() -> None:
    request = parsed(tools=[{"type": "mcp", "server_label": "calc", "authorization": "tok", "headers": {"A": "b"}}])

    echoed = msgspec.to_builtins(new_response(request).tools)
    assert echoed == [{"type": "mcp", "server_label": "calc", "headers": None}]


# ------------------------------------------------------------------------------------------- conversation


def chat(input_items: list[dict[str, Any]], history: list[Any] | None = None) -> Any:
    return chat_request(parsed(input=input_items), history or [])


CALL = {"type": "mcp_call", "id": "mcp_1", "server_label": "calc", "name": "text.echo", "arguments": "{}"}
REQUEST = {"type": "mcp_approval_request", "id": "mcpr_1", "server_label": "calc", "name": "add", "arguments": "{}"}


def messages_of(translation: Any) -> list[dict[str, Any]]:
    body: dict[str, Any] = json.loads(translation.request.upstream_body("m"))
    return body["messages"]  # type: ignore[no-any-return]


def test_calls_the_router_ran_are_one_assistant_turn_then_their_results() -> None:
    second = {**CALL, "id": "mcp_2", "output": None, "error": {"type": "http_error", "code": 504, "message": "late"}}
    messages = messages_of(
        chat([{"role": "user", "content": "Hi"}, {**CALL, "output": "hi"}, second, {"role": "user", "content": "?"}])
    )

    assert [message["role"] for message in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert [call["function"]["name"] for call in messages[1]["tool_calls"]] == ["calc_text_echo"] * 2
    assert messages[2] == {"role": "tool", "content": "hi", "tool_call_id": "mcp_1"}
    assert messages[3]["content"] == "Error: late"


def test_a_declined_call_is_told_to_the_model() -> None:
    declined = {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": False}
    translation = chat([{"role": "user", "content": "Add"}, REQUEST, declined])

    messages = messages_of(translation)
    assert [message["role"] for message in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == "mcpr_1"
    assert messages[2]["content"] == "The user declined to run this tool call."
    assert translation.approved == []


def test_an_approved_call_is_handed_back_once() -> None:
    approved = {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": True}
    pending = chat([{"role": "user", "content": "Add"}, REQUEST, approved])
    ran = chat([{"role": "user", "content": "Add"}, REQUEST, approved, {**CALL, "approval_request_id": "mcpr_1"}])

    assert [(each.approval_request_id, each.name, each.where) for each in pending.approved] == [
        ("mcpr_1", "add", "input[2]")
    ]
    assert ran.approved == []
    with pytest.raises(InvalidRequest) as twice:
        chat([{"role": "user", "content": "Add"}, REQUEST, approved, approved])
    assert twice.value.param == "input[3].approval_request_id"
