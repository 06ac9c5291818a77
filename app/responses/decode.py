"""A Responses request body to a validated `ResponsesRequest`, or an `InvalidRequest` naming what is wrong.

What the router cannot do is refused here, with a 400 whose `param` points at it, rather than silently
dropped: OpenAI's built-in tools (web search, file search, computer use...), MCP connectors and tunnels,
item references, background responses, server-side conversations and stored prompts. An `mcp` tool is
decoded here and checked against the registry in `app.responses.mcp`. Fields that change nothing the router
can honour (`include`, `truncation`, `stream_options`, `max_tool_calls`, `top_logprobs`...) are accepted
and ignored, as OpenAI ignores `include` values that do not apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from app.responses.items import InputItem, InputMessage, JsonObject
from app.responses.wire import (
    CreateResponse,
    FunctionTool,
    MCPTool,
    ResponseTool,
    TextConfig,
    ToolChoice,
    ToolChoiceAllowed,
    ToolChoiceFunction,
    ToolChoiceMCP,
)
from providers.errors import InvalidRequest
from providers.request import check_model_name, decode_json, invalid_request

if TYPE_CHECKING:
    from app.schemas import SchemaCompiler

__all__ = ["ResponsesRequest", "decode_request"]

_decoder = msgspec.json.Decoder(CreateResponse)

_ITEM_TYPES = (
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "mcp_list_tools",
    "mcp_call",
    "mcp_approval_request",
    "mcp_approval_response",
)
_TOOL_CHOICE_MODES: dict[str, ToolChoice] = {"none": "none", "auto": "auto", "required": "required"}
_TOOL_CHOICE_TYPES: dict[str, type[ToolChoiceFunction | ToolChoiceAllowed | ToolChoiceMCP]] = {
    "function": ToolChoiceFunction,
    "allowed_tools": ToolChoiceAllowed,
    "mcp": ToolChoiceMCP,
}


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A validated request: the typed fields, with input, tools and tool choice in the router's types."""

    create: CreateResponse
    input: list[InputItem]
    tools: list[ResponseTool]
    """Function and `mcp` tools, in the request's order (a tool's `param` is `tools[<its index>]`)."""
    tool_choice: ToolChoice | None
    text: TextConfig

    @property
    def functions(self) -> list[FunctionTool]:
        return [tool for tool in self.tools if isinstance(tool, FunctionTool)]

    @property
    def store(self) -> bool:
        """Whether to keep the answer for `previous_response_id` (OpenAI's default is to keep it)."""
        return self.create.store is not False

    @property
    def stream(self) -> bool:
        return bool(self.create.stream)


def decode_request(body: bytes, schemas: SchemaCompiler) -> ResponsesRequest:
    create = decode_json(_decoder, body)
    check_model_name(create.model, "model")
    _refuse_unsupported(create)
    tools = [_tool(raw, index) for index, raw in enumerate(create.tools or ())]
    _check_labels(tools)
    schemas.check_tool_schemas(
        (f"tools[{index}].parameters", tool.name, tool.parameters)
        for index, tool in enumerate(tools)
        if isinstance(tool, FunctionTool)
    )
    return ResponsesRequest(
        create=create,
        input=_input(create),
        tools=tools,
        tool_choice=_tool_choice(create.tool_choice, tools),
        text=create.text or TextConfig(),
    )


def _refuse_unsupported(create: CreateResponse) -> None:
    if create.background:
        raise InvalidRequest(
            "The router does not run responses in the background: leave `background` unset or false.",
            param="background",
            code="unsupported_parameter",
        )
    if create.conversation is not None:
        raise InvalidRequest(
            "The router does not keep conversations: continue one with `previous_response_id`, or send the "
            "whole conversation as `input`.",
            param="conversation",
            code="unsupported_parameter",
        )
    if create.prompt is not None:
        raise InvalidRequest(
            "The router does not store prompt templates: send `instructions` and `input` instead.",
            param="prompt",
            code="unsupported_parameter",
        )


# ------------------------------------------------------------------------------------------------------ input


def _input(create: CreateResponse) -> list[InputItem]:
    raw = create.input
    if raw is None:
        if create.previous_response_id is None:
            raise InvalidRequest(
                "Send `input`: a string, or a list of input items.",
                param="input",
                code="missing_required_parameter",
            )
        return []
    if isinstance(raw, str):
        return [InputMessage(role="user", content=raw)]
    return [_item(item, index) for index, item in enumerate(raw)]


def _item(raw: JsonObject, index: int) -> InputItem:
    where = f"input[{index}]"
    kind: Any = raw.get("type")
    if kind is None and "role" in raw:
        kind = "message"  # OpenAI's "easy" message form leaves the type out
        raw = {**raw, "type": kind}
    elif kind is None and "id" in raw:
        kind = "item_reference"
    if kind == "item_reference":
        raise InvalidRequest(
            f"{where} is an item reference, and the router cannot look items up by id: send the item itself, "
            "or continue a stored response with `previous_response_id`.",
            param=where,
            code="unsupported_value",
        )
    if kind not in _ITEM_TYPES:
        raise InvalidRequest(
            f"{where} is a {kind!r} item, which the router cannot translate: it takes "
            + ", ".join(f"'{name}'" for name in _ITEM_TYPES)
            + " items.",
            param=f"{where}.type",
            code="unsupported_value",
        )
    try:
        item: InputItem = msgspec.convert(raw, InputItem)
    except msgspec.ValidationError as exc:
        raise invalid_request(str(exc), where) from None
    return item


# ------------------------------------------------------------------------------------------------------ tools


def _tool(raw: JsonObject, index: int) -> ResponseTool:
    where = f"tools[{index}]"
    kind = raw.get("type")
    if kind not in ("function", "mcp"):
        raise InvalidRequest(
            f"{where} is a {kind!r} tool, and the router offers function tools and `mcp` tools (the registry's "
            "toolsets) only: OpenAI's other built-in tools (web_search, file_search, code_interpreter...) run "
            "on OpenAI's own servers. Describe the tool as a function and run it yourself.",
            param=f"{where}.type",
            code="unsupported_value",
        )
    try:
        tool: ResponseTool = msgspec.convert(raw, FunctionTool) if kind == "function" else msgspec.convert(raw, MCPTool)
    except msgspec.ValidationError as exc:
        raise invalid_request(str(exc), where) from None
    if isinstance(tool, MCPTool):
        for field, value in (("connector_id", tool.connector_id), ("tunnel_id", tool.tunnel_id)):
            if value is not msgspec.UNSET:
                raise InvalidRequest(
                    f"{where}.{field}: the router has no MCP connectors or tunnels. Name one of its toolsets "
                    "in `server_label`.",
                    param=f"{where}.{field}",
                    code="unsupported_parameter",
                )
    return tool


def _check_labels(tools: list[ResponseTool]) -> None:
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        if isinstance(tool, MCPTool):
            if tool.server_label in seen:
                raise InvalidRequest(
                    f"Two `mcp` tools have the server_label '{tool.server_label}'.",
                    param=f"tools[{index}].server_label",
                    code="invalid_value",
                )
            seen.add(tool.server_label)


def _tool_choice(raw: str | JsonObject | None, tools: list[ResponseTool]) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        mode = _TOOL_CHOICE_MODES.get(raw)
        if mode is None:
            raise _bad_tool_choice(f"'{raw}'", "tool_choice")
        return mode
    kind = raw.get("type")
    choice_type = _TOOL_CHOICE_TYPES.get(kind) if isinstance(kind, str) else None
    if choice_type is None:
        raise _bad_tool_choice(f"a {kind!r} choice", "tool_choice.type")
    try:
        choice = msgspec.convert(raw, choice_type)
    except msgspec.ValidationError as exc:
        raise invalid_request(str(exc), "tool_choice") from None
    if isinstance(choice, ToolChoiceMCP):
        # Its `name` is checked against the server's tools, with the registry (`app.responses.mcp`).
        if not any(isinstance(tool, MCPTool) and tool.server_label == choice.server_label for tool in tools):
            raise InvalidRequest(
                f"`tool_choice` names the MCP server {choice.server_label!r}, which no `mcp` tool has as its "
                "server_label.",
                param="tool_choice.server_label",
                code="invalid_value",
            )
    elif isinstance(choice, ToolChoiceFunction):
        _check_declared(choice.name, "tool_choice.name", tools)
    else:
        for position, name in enumerate(_allowed_names(choice)):
            _check_declared(name, f"tool_choice.tools[{position}]", tools)
    return choice


def _check_declared(name: str, param: str, tools: list[ResponseTool]) -> None:
    if not any(isinstance(tool, FunctionTool) and tool.name == name for tool in tools):
        raise InvalidRequest(
            f"`tool_choice` names the function {name!r}, which is not among `tools`.",
            param=param,
            code="invalid_value",
        )


def _allowed_names(choice: ToolChoiceAllowed) -> list[str]:
    names: list[str] = []
    for position, tool in enumerate(choice.tools):
        if tool.get("type") != "function" or not isinstance(tool.get("name"), str):
            raise InvalidRequest(
                '`tool_choice.tools` may list function tools only, each as {"type": "function", "name": ...}.',
                param=f"tool_choice.tools[{position}]",
                code="invalid_value",
            )
        names.append(tool["name"])
    return names


def _bad_tool_choice(what: str, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"`tool_choice` is {what}: the router takes 'none', 'auto', 'required', "
        '{"type": "function", "name": ...}, {"type": "allowed_tools", ...} (function tools only) or '
        '{"type": "mcp", "server_label": ..., "name": ...}.',
        param=param,
        code="invalid_value",
    )
