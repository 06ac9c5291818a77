"""Anthropic Messages API wire types: requests, answers, stream events and errors, as msgspec types.

Both directions use them: the router's own `/v1/messages` front door decodes requests and encodes answers
with them (`app.messages`), and an Anthropic provider adapter encodes requests and decodes answers with the
same types. They live in `providers/` because adapters may not import `app`.

Fields the router never reads are left out, so decoding ignores them (`cache_control`, `citations`...);
fields the front door must refuse rather than drop are declared (`container`, `mcp_servers`...). Every
type omits unset fields when encoded; fields Anthropic always writes (`stop_reason`, `stop_sequence`, a
thinking block's `signature`) have no default, so they are always written, null where null.

    request     MessagesRequest: MessageParam with RequestBlock content, ToolDefinition, ToolChoice,
                ThinkingConfig, OutputConfig
    answer      Message with ResponseBlock content and Usage
    stream      StreamEvent: message_start, content_block_start / _delta / _stop, message_delta,
                message_stop, ping, error
    errors      ErrorResponse (also the stream's `error` event)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "Base64ImageSource",
    "ContentBlockDelta",
    "ContentBlockStart",
    "ContentBlockStop",
    "CountTokensResponse",
    "ErrorObject",
    "ErrorResponse",
    "FileImageSource",
    "ImageBlock",
    "InputJsonDelta",
    "JsonOutputFormat",
    "Message",
    "MessageDelta",
    "MessageDeltaBody",
    "MessageDeltaUsage",
    "MessageParam",
    "MessageStart",
    "MessageStop",
    "MessagesRequest",
    "Metadata",
    "OutputConfig",
    "Ping",
    "RedactedThinkingBlock",
    "RequestBlock",
    "ResponseBlock",
    "SignatureDelta",
    "StopReason",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
    "ThinkingAdaptive",
    "ThinkingBetweenTools",
    "ThinkingBlock",
    "ThinkingConfig",
    "ThinkingDelta",
    "ThinkingDisabled",
    "ThinkingEnabled",
    "ToolChoice",
    "ToolChoiceAny",
    "ToolChoiceAuto",
    "ToolChoiceNone",
    "ToolChoiceTool",
    "ToolDefinition",
    "ToolResultBlock",
    "ToolUseBlock",
    "UrlImageSource",
    "Usage",
]

JsonObject = dict[str, Any]
StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded"
]
Probability = Annotated[float, Meta(ge=0, le=1)]


class _Wire(Struct, kw_only=True, omit_defaults=True):
    """Base for every Anthropic wire type."""


# ------------------------------------------------------------------------------------------- content blocks


class TextBlock(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="text"):
    text: str


class Base64ImageSource(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="base64"):
    media_type: str
    data: str


class UrlImageSource(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="url"):
    url: str


class FileImageSource(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="file"):
    file_id: str


class ImageBlock(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="image"):
    source: Base64ImageSource | UrlImageSource | FileImageSource


class ToolUseBlock(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="tool_use"):
    id: str
    name: str
    input: JsonObject


class ToolResultBlock(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="tool_result"):
    tool_use_id: str
    content: str | list[TextBlock | ImageBlock] = ""
    is_error: bool | UnsetType = UNSET


class ThinkingBlock(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="thinking"):
    thinking: str
    signature: str


class RedactedThinkingBlock(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="redacted_thinking"):
    data: str


RequestBlock = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock
ResponseBlock = TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock

# -------------------------------------------------------------------------------------------------- request


class MessageParam(_Wire, kw_only=True, omit_defaults=True):
    role: Literal["user", "assistant", "system"]
    content: str | list[RequestBlock]


class ToolDefinition(_Wire, kw_only=True, omit_defaults=True):
    """A tool the client runs. Anthropic's own tools (web search, code execution...) carry a versioned
    `type` and no `input_schema`: they decode here too, so a front end can name what it refuses."""

    name: str
    type: str | UnsetType | None = UNSET
    description: str | UnsetType = UNSET
    input_schema: JsonObject | UnsetType = UNSET
    strict: bool | UnsetType = UNSET


class ToolChoiceAuto(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="auto"):
    disable_parallel_tool_use: bool | UnsetType = UNSET


class ToolChoiceAny(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="any"):
    disable_parallel_tool_use: bool | UnsetType = UNSET


class ToolChoiceTool(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="tool"):
    name: str
    disable_parallel_tool_use: bool | UnsetType = UNSET


class ToolChoiceNone(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="none"):
    pass


ToolChoice = ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone


class ThinkingEnabled(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="enabled"):
    budget_tokens: Annotated[int, Meta(ge=0)]


class ThinkingDisabled(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="disabled"):
    pass


class ThinkingAdaptive(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="adaptive"):
    pass


class ThinkingBetweenTools(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="between_tools"):
    pass


ThinkingConfig = ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive | ThinkingBetweenTools


class JsonOutputFormat(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="json_schema"):
    schema: JsonObject


class OutputConfig(_Wire, kw_only=True, omit_defaults=True):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None | UnsetType = UNSET
    format: JsonOutputFormat | None | UnsetType = UNSET


class Metadata(_Wire, kw_only=True, omit_defaults=True):
    user_id: str | None | UnsetType = UNSET


class MessagesRequest(_Wire, kw_only=True, omit_defaults=True):
    """`POST /v1/messages` (and `/v1/messages/count_tokens`, which takes no `max_tokens` and no `stream`)."""

    model: str
    messages: Annotated[list[MessageParam], Meta(min_length=1)]
    max_tokens: int | UnsetType = UNSET
    system: str | list[TextBlock] | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    stream: bool | UnsetType = UNSET
    temperature: Probability | UnsetType = UNSET
    top_p: Probability | UnsetType = UNSET
    top_k: Annotated[int, Meta(ge=0)] | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    tools: list[ToolDefinition] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    thinking: ThinkingConfig | UnsetType = UNSET
    output_config: OutputConfig | UnsetType = UNSET
    service_tier: str | UnsetType = UNSET
    # Server-side features: Anthropic runs them on its own infrastructure.
    container: Any | UnsetType = UNSET
    mcp_servers: Any | UnsetType = UNSET


# --------------------------------------------------------------------------------------------------- answer


class Usage(_Wire, kw_only=True, omit_defaults=True):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int | None | UnsetType = UNSET
    cache_read_input_tokens: int | None | UnsetType = UNSET


class Message(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="message"):
    id: str
    role: Literal["assistant"]
    content: list[ResponseBlock]
    model: str
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage


class CountTokensResponse(_Wire, kw_only=True, omit_defaults=True):
    input_tokens: int


# --------------------------------------------------------------------------------------------------- stream


class MessageStart(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="message_start"):
    message: Message


class ContentBlockStart(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="content_block_start"):
    index: int
    content_block: ResponseBlock


class TextDelta(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="text_delta"):
    text: str


class InputJsonDelta(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="input_json_delta"):
    partial_json: str


class ThinkingDelta(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="thinking_delta"):
    thinking: str


class SignatureDelta(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="signature_delta"):
    signature: str


class ContentBlockDelta(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="content_block_delta"):
    index: int
    delta: TextDelta | InputJsonDelta | ThinkingDelta | SignatureDelta


class ContentBlockStop(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="content_block_stop"):
    index: int


class MessageDeltaBody(_Wire, kw_only=True, omit_defaults=True):
    stop_reason: StopReason | None
    stop_sequence: str | None


class MessageDeltaUsage(_Wire, kw_only=True, omit_defaults=True):
    """Cumulative counts for the whole message, as Anthropic sends them in `message_delta`."""

    output_tokens: int
    input_tokens: int | None | UnsetType = UNSET
    cache_creation_input_tokens: int | None | UnsetType = UNSET
    cache_read_input_tokens: int | None | UnsetType = UNSET


class MessageDelta(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="message_delta"):
    delta: MessageDeltaBody
    usage: MessageDeltaUsage


class MessageStop(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="message_stop"):
    pass


class Ping(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="ping"):
    pass


# --------------------------------------------------------------------------------------------------- errors


class ErrorObject(_Wire, kw_only=True, omit_defaults=True):
    type: str
    message: str


class ErrorResponse(_Wire, kw_only=True, omit_defaults=True, tag_field="type", tag="error"):
    """An error response's body, and a stream's `error` event: `{"type": "error", "error": {...}}`."""

    error: ErrorObject
    request_id: str | UnsetType = UNSET


StreamEvent = (
    MessageStart
    | ContentBlockStart
    | ContentBlockDelta
    | ContentBlockStop
    | MessageDelta
    | MessageStop
    | Ping
    | ErrorResponse
)
