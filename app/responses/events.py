"""Responses stream events, and their server-sent-event framing: `event: <type>` then `data: <json>`.

Each event type is a msgspec struct tagged with its `type`; `sequence_number` counts every event of a
stream from 0. See `app.responses.stream` for the order they come in.
"""

from __future__ import annotations

from typing import get_args

import msgspec

from app.responses.items import JsonObject, OutputItem, OutputText, ReasoningText, Refusal, Wire
from app.responses.wire import ResponseObject  # noqa: TC001 (msgspec reads annotations at runtime)

__all__ = [
    "ContentPartAdded",
    "ContentPartDone",
    "ErrorDetail",
    "ErrorEvent",
    "Event",
    "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone",
    "MCPCallArgumentsDelta",
    "MCPCallArgumentsDone",
    "MCPCallCompleted",
    "MCPCallFailed",
    "MCPCallInProgress",
    "MCPListToolsCompleted",
    "MCPListToolsFailed",
    "MCPListToolsInProgress",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputTextDelta",
    "OutputTextDone",
    "ReasoningTextDelta",
    "ReasoningTextDone",
    "RefusalDelta",
    "RefusalDone",
    "ResponseCompleted",
    "ResponseCreated",
    "ResponseFailed",
    "ResponseInProgress",
    "ResponseIncomplete",
    "encode_event",
]

_encoder = msgspec.json.Encoder()

Part = OutputText | Refusal | ReasoningText


class _Event(Wire, kw_only=True):
    sequence_number: int


# ------------------------------------------------------------------------------------------------ lifecycle


class ResponseCreated(_Event, kw_only=True, tag_field="type", tag="response.created"):
    response: ResponseObject


class ResponseInProgress(_Event, kw_only=True, tag_field="type", tag="response.in_progress"):
    response: ResponseObject


class ResponseCompleted(_Event, kw_only=True, tag_field="type", tag="response.completed"):
    response: ResponseObject


class ResponseIncomplete(_Event, kw_only=True, tag_field="type", tag="response.incomplete"):
    response: ResponseObject


class ResponseFailed(_Event, kw_only=True, tag_field="type", tag="response.failed"):
    response: ResponseObject


class ErrorDetail(Wire, kw_only=True):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorEvent(_Event, kw_only=True, tag_field="type", tag="error"):
    """OpenAI documents `code`, `message` and `param` at the top level, but sends them nested under `error`,
    and that nested object is what OpenAI's SDKs raise on (Python and JavaScript alike): both are written."""

    code: str | None
    message: str
    param: str | None
    error: ErrorDetail


# ----------------------------------------------------------------------------------------------------- items


class OutputItemAdded(_Event, kw_only=True, tag_field="type", tag="response.output_item.added"):
    output_index: int
    item: OutputItem


class OutputItemDone(_Event, kw_only=True, tag_field="type", tag="response.output_item.done"):
    output_index: int
    item: OutputItem


class ContentPartAdded(_Event, kw_only=True, tag_field="type", tag="response.content_part.added"):
    item_id: str
    output_index: int
    content_index: int
    part: Part


class ContentPartDone(_Event, kw_only=True, tag_field="type", tag="response.content_part.done"):
    item_id: str
    output_index: int
    content_index: int
    part: Part


class OutputTextDelta(_Event, kw_only=True, tag_field="type", tag="response.output_text.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[JsonObject] = []


class OutputTextDone(_Event, kw_only=True, tag_field="type", tag="response.output_text.done"):
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[JsonObject] = []


class RefusalDelta(_Event, kw_only=True, tag_field="type", tag="response.refusal.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str


class RefusalDone(_Event, kw_only=True, tag_field="type", tag="response.refusal.done"):
    item_id: str
    output_index: int
    content_index: int
    refusal: str


class ReasoningTextDelta(_Event, kw_only=True, tag_field="type", tag="response.reasoning_text.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str


class ReasoningTextDone(_Event, kw_only=True, tag_field="type", tag="response.reasoning_text.done"):
    item_id: str
    output_index: int
    content_index: int
    text: str


class FunctionCallArgumentsDelta(_Event, kw_only=True, tag_field="type", tag="response.function_call_arguments.delta"):
    item_id: str
    output_index: int
    delta: str


class FunctionCallArgumentsDone(_Event, kw_only=True, tag_field="type", tag="response.function_call_arguments.done"):
    item_id: str
    name: str
    output_index: int
    arguments: str


# ------------------------------------------------------------------------------------------------------- MCP


class _ItemEvent(_Event, kw_only=True):
    item_id: str
    output_index: int


class MCPListToolsInProgress(_ItemEvent, kw_only=True, tag_field="type", tag="response.mcp_list_tools.in_progress"):
    pass


class MCPListToolsCompleted(_ItemEvent, kw_only=True, tag_field="type", tag="response.mcp_list_tools.completed"):
    pass


class MCPListToolsFailed(_ItemEvent, kw_only=True, tag_field="type", tag="response.mcp_list_tools.failed"):
    pass


class MCPCallInProgress(_ItemEvent, kw_only=True, tag_field="type", tag="response.mcp_call.in_progress"):
    pass


class MCPCallArgumentsDelta(_ItemEvent, kw_only=True, tag_field="type", tag="response.mcp_call_arguments.delta"):
    delta: str


class MCPCallArgumentsDone(_ItemEvent, kw_only=True, tag_field="type", tag="response.mcp_call_arguments.done"):
    arguments: str


class MCPCallCompleted(_ItemEvent, kw_only=True, tag_field="type", tag="response.mcp_call.completed"):
    pass


class MCPCallFailed(_ItemEvent, kw_only=True, tag_field="type", tag="response.mcp_call.failed"):
    pass


Event = (
    ResponseCreated
    | ResponseInProgress
    | ResponseCompleted
    | ResponseIncomplete
    | ResponseFailed
    | ErrorEvent
    | OutputItemAdded
    | OutputItemDone
    | ContentPartAdded
    | ContentPartDone
    | OutputTextDelta
    | OutputTextDone
    | RefusalDelta
    | RefusalDone
    | ReasoningTextDelta
    | ReasoningTextDone
    | FunctionCallArgumentsDelta
    | FunctionCallArgumentsDone
    | MCPListToolsInProgress
    | MCPListToolsCompleted
    | MCPListToolsFailed
    | MCPCallInProgress
    | MCPCallArgumentsDelta
    | MCPCallArgumentsDone
    | MCPCallCompleted
    | MCPCallFailed
)


# Each event's frame opens with its name, written once per kind of event rather than once per event.
_OPENINGS = {kind: b"event: %s\ndata: " % str(kind.__struct_config__.tag).encode() for kind in get_args(Event)}


def encode_event(event: Event) -> bytes:
    """One SSE frame, named as OpenAI names it: `event: <type>\\ndata: <json>\\n\\n`."""
    return b"".join((_OPENINGS[type(event)], _encoder.encode(event), b"\n\n"))
