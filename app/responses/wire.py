"""The Responses API request and response object, as msgspec types.

`CreateResponse` is the typed view of a request. `input`, `tools` and `tool_choice` stay plain JSON here:
their unions mix OpenAI's built-in types (web search, file search, ...) with the ones the router serves
(function tools, and `mcp` tools naming registry toolsets), and `app.responses.decode` turns them into the
types below with an error that says what the router does not support, rather than msgspec's generic one.

`ResponseObject` is OpenAI's `Response`, with every field its schema requires always written (null where
nullable), so strict clients can deserialise it. It echoes the request's settings, as OpenAI does.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType, field

from app.responses.items import JsonObject, OutputItem, Wire

__all__ = [
    "CreateResponse",
    "FormatJsonObject",
    "FormatJsonSchema",
    "FormatText",
    "FunctionTool",
    "IncompleteDetails",
    "InputTokensDetails",
    "MCPApprovalFilter",
    "MCPTool",
    "MCPToolFilter",
    "OutputTokensDetails",
    "ReasoningConfig",
    "ResponseError",
    "ResponseObject",
    "ResponseStatus",
    "ResponseTool",
    "ResponseUsage",
    "TextConfig",
    "TextFormat",
    "ToolChoice",
    "ToolChoiceAllowed",
    "ToolChoiceFunction",
    "ToolChoiceMCP",
    "new_id",
]

ResponseStatus = Literal["completed", "failed", "in_progress", "incomplete"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
# The chat API's limit on tool and schema names, checked here so a bad name fails before routing.
Name = Annotated[str, Meta(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


def new_id(prefix: str) -> str:
    """An id in OpenAI's style: `resp_…`, `msg_…`, `fc_…`, `rs_…`."""
    return f"{prefix}_{secrets.token_hex(24)}"


# ------------------------------------------------------------------------------------------------------ tools


class FunctionTool(Wire, kw_only=True, tag_field="type", tag="function"):
    name: Name
    description: str | None = None
    parameters: JsonObject | None = None
    strict: bool | None = None


class MCPToolFilter(Wire, kw_only=True, forbid_unknown_fields=True):
    """Tools of an MCP server by their own names, or by MCP's `readOnlyHint` annotation (both: both hold)."""

    tool_names: list[str] | UnsetType = UNSET
    read_only: bool | UnsetType = UNSET


class MCPApprovalFilter(Wire, kw_only=True, forbid_unknown_fields=True):
    always: MCPToolFilter | UnsetType = UNSET
    never: MCPToolFilter | UnsetType = UNSET


class MCPTool(Wire, kw_only=True, tag_field="type", tag="mcp"):
    """OpenAI's remote MCP tool; here `server_label` names a toolset of the router's registry.

    `headers` and `authorization` are credentials: they go to that toolset's server with each call, and the
    response never echoes them."""

    server_label: str
    server_url: str | UnsetType = UNSET
    connector_id: str | UnsetType = UNSET
    tunnel_id: str | UnsetType = UNSET
    authorization: str | UnsetType = UNSET
    server_description: str | UnsetType = UNSET
    headers: dict[str, str] | UnsetType | None = UNSET
    allowed_tools: list[str] | MCPToolFilter | UnsetType | None = UNSET
    require_approval: Literal["always", "never"] | MCPApprovalFilter | UnsetType | None = UNSET


class ToolChoiceFunction(Wire, kw_only=True, tag_field="type", tag="function"):
    name: str


class ToolChoiceMCP(Wire, kw_only=True, tag_field="type", tag="mcp"):
    server_label: str
    name: str | None = None


class ToolChoiceAllowed(Wire, kw_only=True, tag_field="type", tag="allowed_tools"):
    mode: Literal["auto", "required"]
    tools: list[JsonObject]


ToolChoice = Literal["none", "auto", "required"] | ToolChoiceFunction | ToolChoiceAllowed | ToolChoiceMCP
ResponseTool = FunctionTool | MCPTool

# ----------------------------------------------------------------------------------------- text and reasoning


class FormatText(Wire, kw_only=True, tag_field="type", tag="text"):
    pass


class FormatJsonObject(Wire, kw_only=True, tag_field="type", tag="json_object"):
    pass


class FormatJsonSchema(Wire, kw_only=True, tag_field="type", tag="json_schema"):
    name: Name
    schema: JsonObject
    description: str | UnsetType | None = UNSET
    strict: bool | None = None


TextFormat = FormatText | FormatJsonObject | FormatJsonSchema


class TextConfig(Wire, kw_only=True):
    format: TextFormat = field(default_factory=FormatText)
    verbosity: Literal["low", "medium", "high"] | UnsetType | None = UNSET


class ReasoningConfig(Wire, kw_only=True):
    effort: ReasoningEffort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


# ---------------------------------------------------------------------------------------------------- request


class CreateResponse(Wire, kw_only=True):
    """The fields of a Responses request the router reads; any other field is accepted and ignored."""

    model: str
    input: str | list[JsonObject] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    tools: list[JsonObject] | None = None
    tool_choice: str | JsonObject | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: Annotated[int, Meta(ge=1)] | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    stream: bool | None = None
    # Read only to refuse them: the router has no background jobs, conversations or stored prompts.
    background: bool | None = None
    conversation: Any = None
    prompt: Any = None


# --------------------------------------------------------------------------------------------------- response


class ResponseError(Wire, kw_only=True):
    # OpenAI's enum; the router uses `server_error` and `rate_limit_exceeded`.
    code: str
    message: str


class IncompleteDetails(Wire, kw_only=True):
    reason: Literal["max_output_tokens", "content_filter"]


class InputTokensDetails(Wire, kw_only=True):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(Wire, kw_only=True):
    reasoning_tokens: int = 0


class ResponseUsage(Wire, kw_only=True):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseObject(Wire, kw_only=True):
    """OpenAI's `Response` object: one answer, its status and output, and the settings it was made with."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: ResponseStatus
    completed_at: int | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputItem] = []
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    reasoning: ReasoningConfig | None = None
    store: bool = True
    temperature: float | None = None
    text: TextConfig = field(default_factory=TextConfig)
    tool_choice: ToolChoice = "auto"
    tools: list[ResponseTool] = []
    top_p: float | None = None
    truncation: Literal["auto", "disabled"] = "disabled"
    # Left out, not null, until known: OpenAI's schema does not let it be null.
    usage: ResponseUsage | UnsetType = UNSET
    user: str | UnsetType = UNSET
    metadata: dict[str, str] = {}
    # Echoed from the request, as OpenAI's own responses do; left out when the request did not set them.
    service_tier: str | UnsetType = UNSET
    prompt_cache_key: str | UnsetType = UNSET
    safety_identifier: str | UnsetType = UNSET
    top_logprobs: int | UnsetType = UNSET
