"""Responses API items, the parts a conversation is made of: as clients send them and as the router answers.

Input items are decoded as leniently as OpenAI's own clients require: a message's content is a string or
a list of parts, assistant text comes back as `output_text` (an earlier answer replayed verbatim, as
LangChain does) or as `input_text`, and ids and statuses may be missing or null. Output items are what the
router writes, always whole: every field OpenAI marks required is present, `annotations` and `logprobs`
included, so strict clients can deserialise them.

The MCP items (`mcp_list_tools`, `mcp_call`, `mcp_approval_request`) are one type each for both sides: the
router writes them whole, and a client that sends a conversation back (the OpenAI Agents SDK does) sends
them as it got them. `mcp_approval_response` is input only: how a client answers an approval request.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, Struct, UnsetType

__all__ = [
    "FunctionCall",
    "FunctionCallInput",
    "FunctionCallOutput",
    "InputContent",
    "InputFile",
    "InputImage",
    "InputItem",
    "InputMessage",
    "InputText",
    "ItemStatus",
    "JsonObject",
    "MCPApprovalRequest",
    "MCPApprovalResponse",
    "MCPCall",
    "MCPCallError",
    "MCPCallStatus",
    "MCPHttpError",
    "MCPListTools",
    "MCPListedTool",
    "MCPProtocolError",
    "MCPToolExecutionError",
    "OutputContent",
    "OutputItem",
    "OutputMessage",
    "OutputText",
    "Reasoning",
    "ReasoningInput",
    "ReasoningText",
    "Refusal",
    "SummaryText",
    "ToolOutputContent",
    "Wire",
    "as_input",
]

JsonObject = dict[str, Any]
ItemStatus = Literal["in_progress", "completed", "incomplete"]


class Wire(Struct, kw_only=True):
    """Base for every Responses wire type: `UNSET` fields are left out, `None` fields are written as null."""


# --------------------------------------------------------------------------------------------- content parts


class InputText(Wire, kw_only=True, tag_field="type", tag="input_text"):
    text: str


class InputImage(Wire, kw_only=True, tag_field="type", tag="input_image"):
    image_url: str | None = None
    file_id: str | None = None
    detail: str = "auto"


class InputFile(Wire, kw_only=True, tag_field="type", tag="input_file"):
    file_id: str | None = None
    file_data: str | UnsetType = UNSET
    filename: str | UnsetType = UNSET
    file_url: str | UnsetType = UNSET


class OutputText(Wire, kw_only=True, tag_field="type", tag="output_text"):
    text: str
    annotations: list[JsonObject] = []
    logprobs: list[JsonObject] = []


class Refusal(Wire, kw_only=True, tag_field="type", tag="refusal"):
    refusal: str


class ReasoningText(Wire, kw_only=True, tag_field="type", tag="reasoning_text"):
    text: str


class SummaryText(Wire, kw_only=True, tag_field="type", tag="summary_text"):
    text: str


InputContent = InputText | InputImage | InputFile | OutputText | Refusal
ToolOutputContent = InputText | InputImage | InputFile
OutputContent = OutputText | Refusal

# ----------------------------------------------------------------------------------------------- input items


class InputMessage(Wire, kw_only=True, tag_field="type", tag="message"):
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[InputContent]
    id: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType | None = UNSET


class FunctionCallInput(Wire, kw_only=True, tag_field="type", tag="function_call"):
    call_id: str
    name: str
    arguments: str
    id: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType | None = UNSET


class FunctionCallOutput(Wire, kw_only=True, tag_field="type", tag="function_call_output"):
    call_id: str
    output: str | list[ToolOutputContent]
    id: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType | None = UNSET


class ReasoningInput(Wire, kw_only=True, tag_field="type", tag="reasoning"):
    id: str | UnsetType | None = UNSET
    summary: list[SummaryText] = []
    content: list[ReasoningText] | UnsetType | None = UNSET
    encrypted_content: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType | None = UNSET


# ------------------------------------------------------------------------------------------------- MCP items


class MCPListedTool(Wire, kw_only=True):
    """One tool of an MCP server, under the name its own server gives it."""

    name: str
    input_schema: JsonObject
    description: str | None = None
    annotations: JsonObject | None = None


class MCPListTools(Wire, kw_only=True, tag_field="type", tag="mcp_list_tools"):
    id: str
    server_label: str
    tools: list[MCPListedTool]
    error: str | None = None


class MCPProtocolError(Wire, kw_only=True, tag_field="type", tag="mcp_protocol_error"):
    """The call was not valid for the tool (arguments that are not JSON, or that its schema refuses)."""

    code: int
    message: str


class MCPToolExecutionError(Wire, kw_only=True, tag_field="type", tag="mcp_tool_execution_error"):
    """The tool ran and answered with an error (MCP's `isError`, an HTTP tool's error status)."""

    content: Any


class MCPHttpError(Wire, kw_only=True, tag_field="type", tag="http_error"):
    """The router got no usable answer from the tool (`code` is the status the router would answer)."""

    code: int
    message: str


MCPCallError = MCPProtocolError | MCPToolExecutionError | MCPHttpError
MCPCallStatus = Literal["in_progress", "completed", "incomplete", "calling", "failed"]


class MCPCall(Wire, kw_only=True, tag_field="type", tag="mcp_call"):
    """A call the router ran on a toolset (`server_label`) under the tool's own name (`name`)."""

    id: str
    server_label: str
    name: str
    arguments: str
    output: str | None = None
    error: MCPCallError | None = None
    status: MCPCallStatus = "completed"
    approval_request_id: str | None = None


class MCPApprovalRequest(Wire, kw_only=True, tag_field="type", tag="mcp_approval_request"):
    """A call the model asked for that waits for the client's approval (an `mcp_approval_response`)."""

    id: str
    server_label: str
    name: str
    arguments: str


class MCPApprovalResponse(Wire, kw_only=True, tag_field="type", tag="mcp_approval_response"):
    approval_request_id: str
    approve: bool
    reason: str | None = None
    id: str | UnsetType | None = UNSET


InputItem = (
    InputMessage
    | FunctionCallInput
    | FunctionCallOutput
    | ReasoningInput
    | MCPListTools
    | MCPCall
    | MCPApprovalRequest
    | MCPApprovalResponse
)

# ---------------------------------------------------------------------------------------------- output items


class OutputMessage(Wire, kw_only=True, tag_field="type", tag="message"):
    id: str
    role: Literal["assistant"] = "assistant"
    status: ItemStatus
    content: list[OutputContent]


class FunctionCall(Wire, kw_only=True, tag_field="type", tag="function_call"):
    id: str
    call_id: str
    name: str
    arguments: str
    status: ItemStatus


class Reasoning(Wire, kw_only=True, tag_field="type", tag="reasoning"):
    id: str
    summary: list[SummaryText] = []
    content: list[ReasoningText]
    status: ItemStatus


OutputItem = OutputMessage | FunctionCall | Reasoning | MCPListTools | MCPCall | MCPApprovalRequest


def as_input(item: OutputItem) -> InputItem:
    """An answer's item as the next request's input: how a stored conversation continues."""
    if isinstance(item, OutputMessage):
        return InputMessage(role="assistant", content=list(item.content), id=item.id, status=item.status)
    if isinstance(item, FunctionCall):
        return FunctionCallInput(
            call_id=item.call_id, name=item.name, arguments=item.arguments, id=item.id, status=item.status
        )
    if isinstance(item, MCPListTools | MCPCall | MCPApprovalRequest):
        return item
    return ReasoningInput(id=item.id, summary=list(item.summary), content=list(item.content), status=item.status)
