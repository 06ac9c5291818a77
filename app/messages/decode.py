"""A Messages request body to a validated `MessagesRequest`, or an `InvalidRequest` naming what is wrong.

What the router cannot do is refused here with a 400 whose message names the field, never dropped:
Anthropic's server tools (web search, code execution, text editor...), `container` and `mcp_servers`, blocks
other than text, image, tool_use, tool_result, thinking and redacted_thinking, a `tool_choice` that names
a tool the request does not offer, and a tool whose `input_schema` is not a usable JSON Schema
(`app.schemas`). `max_tokens` is required, as Anthropic's API requires it (except for counting tokens).
Hints that change nothing a chat model can honour are accepted and ignored: `cache_control` anywhere,
`citations`, `service_tier`, `speed`, `inference_geo`, and `context_management`, which trims long contexts
on Anthropic's side as the Responses API's `truncation` does on OpenAI's (ignored, the model sees the whole
conversation).
"""

from __future__ import annotations

import re

import msgspec

from app.schemas import check_tool_schemas
from providers.anthropic_schema import MessagesRequest, ToolChoiceAny, ToolChoiceTool
from providers.errors import InvalidRequest
from providers.request import check_model_name, decode_json

__all__ = ["decode_request"]

_decoder = msgspec.json.Decoder(MessagesRequest)

# msgspec names an unknown tag as `Invalid value 'document'`, at the `type` field that holds it.
_UNKNOWN_TAG = re.compile(r"Invalid value '(?P<value>[^']*)'")
_BLOCKS = "text, image, tool_use, tool_result, thinking and redacted_thinking"
_SERVER_SIDE = {
    "container": "containers, which run on Anthropic's servers",
    "mcp_servers": "MCP servers called by Anthropic's servers: connect your MCP tools as client tools",
}


def decode_request(body: bytes, *, counting: bool = False) -> MessagesRequest:
    """Validate a request to create a message (or, with `counting`, to count its tokens)."""
    try:
        request = decode_json(_decoder, body)
    except InvalidRequest as exc:
        raise _named(exc) from None
    check_model_name(request.model, "model")
    for name, what in _SERVER_SIDE.items():
        if getattr(request, name) is not msgspec.UNSET:
            raise InvalidRequest(
                f"The router does not support `{name}`: {what}.", param=name, code="unsupported_parameter"
            )
    if not counting:
        _check_max_tokens(request)
    _check_tools(request)
    return request


def _check_max_tokens(request: MessagesRequest) -> None:
    if request.max_tokens is msgspec.UNSET:
        raise InvalidRequest(
            "max_tokens: Field required. Anthropic's Messages API needs the most tokens the answer may use.",
            param="max_tokens",
            code="missing_required_parameter",
        )
    if request.max_tokens < 1:
        raise InvalidRequest(
            "max_tokens must be at least 1: the router cannot warm a prompt cache without an answer.",
            param="max_tokens",
            code="invalid_value",
        )


def _check_tools(request: MessagesRequest) -> None:
    tools = request.tools or []
    for index, tool in enumerate(tools):
        if tool.type not in (msgspec.UNSET, None, "custom"):
            raise InvalidRequest(
                f"tools[{index}] is Anthropic's {tool.type!r} tool, which runs on Anthropic's own servers or is "
                "built into Claude: the router offers client tools only. Describe the tool with a name, "
                "description and input_schema, and run it yourself.",
                param=f"tools[{index}].type",
                code="unsupported_value",
            )
        if tool.input_schema is msgspec.UNSET:
            raise InvalidRequest(
                f"tools[{index}].input_schema: Field required.",
                param=f"tools[{index}].input_schema",
                code="missing_required_parameter",
            )
    check_tool_schemas(
        (f"tools[{index}].input_schema", tool.name, tool.input_schema) for index, tool in enumerate(tools)
    )
    choice = request.tool_choice
    if isinstance(choice, ToolChoiceTool) and not any(tool.name == choice.name for tool in tools):
        raise InvalidRequest(
            f"tool_choice names the tool {choice.name!r}, which is not among `tools`.",
            param="tool_choice.name",
            code="invalid_value",
        )
    if isinstance(choice, ToolChoiceAny) and not tools:
        raise InvalidRequest(
            "tool_choice is 'any', but the request offers no tools.", param="tool_choice", code="invalid_value"
        )


def _named(exc: InvalidRequest) -> InvalidRequest:
    """msgspec's error for an unknown block or option type, said as what the router does not support."""
    param = exc.param or ""
    unknown = _UNKNOWN_TAG.search(exc.message)
    if unknown is None or not param.endswith(".type"):
        return exc
    where, value = param.removesuffix(".type"), unknown["value"]
    if re.fullmatch(r"messages\[\d+\]\.content\[\d+\]", where):
        message = f"{where} is a {value!r} block, which the router does not translate: it takes {_BLOCKS} blocks."
    elif re.fullmatch(r"messages\[\d+\]\.content\[\d+\]\.content\[\d+\]", where):
        message = (
            f"{where} is a {value!r} block, which the router does not translate: chat models take only text as "
            "a tool's result."
        )
    else:
        message = f"{where} is of type {value!r}, which the router does not support here."
    return InvalidRequest(message, param=param, code="unsupported_value")
