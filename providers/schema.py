"""OpenAI chat-completions wire types: the router's provider-neutral format.

Every adapter translates between its provider's dialect and these types. Requests are decoded strictly (so
bad input gets a precise error), but they are a validated *view*: what goes upstream is built from the
client's own top-level fields (see `providers.request.ChatRequest`), so nothing a client sent is lost.

Responses are re-encoded from these types, which is what makes them exact OpenAI shape: fields OpenAI does
not define are dropped on decode, `UNSET` fields are omitted on encode, and `None` fields that OpenAI marks
required-but-nullable (`content`, `refusal`, `logprobs`, `finish_reason`) are always written.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "UNSET",
    "AllowedToolsChoice",
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionMessage",
    "CompletionTokensDetails",
    "ContentPart",
    "CustomTool",
    "CustomToolCall",
    "DeveloperMessage",
    "ErrorBody",
    "ErrorEnvelope",
    "FunctionCall",
    "FunctionDefinition",
    "FunctionMessage",
    "FunctionTool",
    "FunctionToolCall",
    "JsonSchemaFormat",
    "Message",
    "Model",
    "ModelList",
    "NamedToolChoice",
    "PromptTokensDetails",
    "ResponseFormat",
    "StreamOptions",
    "SystemMessage",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallDeltaFunction",
    "ToolChoice",
    "ToolMessage",
    "Usage",
    "UserMessage",
]

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})

ToolName = Annotated[str, Meta(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
JsonObject = dict[str, Any]


class _Wire(Struct, kw_only=True):
    """Base for every wire type. Each sets `kw_only`, so optional fields may precede required ones."""


# --------------------------------------------------------------------------------------------- content parts


class TextPart(_Wire, kw_only=True, tag_field="type", tag="text"):
    text: str


class RefusalPart(_Wire, kw_only=True, tag_field="type", tag="refusal"):
    refusal: str


class ImageUrl(_Wire, kw_only=True):
    url: str
    detail: Literal["auto", "low", "high"] | UnsetType = UNSET


class ImagePart(_Wire, kw_only=True, tag_field="type", tag="image_url"):
    image_url: ImageUrl


class InputAudio(_Wire, kw_only=True):
    data: str
    format: str


class AudioPart(_Wire, kw_only=True, tag_field="type", tag="input_audio"):
    input_audio: InputAudio


class FileRef(_Wire, kw_only=True):
    file_id: str | UnsetType = UNSET
    file_data: str | UnsetType = UNSET
    filename: str | UnsetType = UNSET


class FilePart(_Wire, kw_only=True, tag_field="type", tag="file"):
    file: FileRef


ContentPart = TextPart | ImagePart | AudioPart | FilePart
TextContent = str | list[TextPart]

# ----------------------------------------------------------------------------------------------- tool calls


class FunctionCall(_Wire, kw_only=True):
    name: str
    arguments: str


class FunctionToolCall(_Wire, kw_only=True, tag_field="type", tag="function"):
    id: str
    function: FunctionCall


class CustomCall(_Wire, kw_only=True):
    name: str
    input: str


class CustomToolCall(_Wire, kw_only=True, tag_field="type", tag="custom"):
    id: str
    custom: CustomCall


ToolCall = FunctionToolCall | CustomToolCall

# ------------------------------------------------------------------------------------------------- messages


class SystemMessage(_Wire, kw_only=True, tag_field="role", tag="system"):
    content: TextContent
    name: str | UnsetType = UNSET


class DeveloperMessage(_Wire, kw_only=True, tag_field="role", tag="developer"):
    content: TextContent
    name: str | UnsetType = UNSET


class UserMessage(_Wire, kw_only=True, tag_field="role", tag="user"):
    content: str | list[ContentPart]
    name: str | UnsetType = UNSET


class AssistantMessage(_Wire, kw_only=True, tag_field="role", tag="assistant"):
    content: str | list[TextPart | RefusalPart] | None = None
    refusal: str | UnsetType | None = UNSET
    name: str | UnsetType = UNSET
    tool_calls: list[ToolCall] | UnsetType = UNSET
    function_call: FunctionCall | UnsetType | None = UNSET
    audio: JsonObject | UnsetType | None = UNSET
    # DeepSeek's thinking mode requires it back after a tool-calling turn.
    reasoning_content: str | UnsetType | None = UNSET
    # The signed reasoning blocks the router sent (OpenRouter's shape): Anthropic requires them back after a
    # tool-calling turn with thinking on. Loosely typed: each adapter takes the entries it understands.
    reasoning_details: list[JsonObject] | UnsetType | None = UNSET


class ToolMessage(_Wire, kw_only=True, tag_field="role", tag="tool"):
    content: TextContent
    tool_call_id: str
    # Not OpenAI's: whether the tool failed, for dialects that tell the model (Anthropic's `is_error`).
    is_error: bool | UnsetType | None = UNSET


class FunctionMessage(_Wire, kw_only=True, tag_field="role", tag="function"):
    content: str | None
    name: str


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage

# ---------------------------------------------------------------------------------------------------- tools


class FunctionDefinition(_Wire, kw_only=True):
    name: ToolName
    description: str | UnsetType = UNSET
    parameters: JsonObject | UnsetType = UNSET
    strict: bool | UnsetType | None = UNSET


class FunctionTool(_Wire, kw_only=True, tag_field="type", tag="function"):
    function: FunctionDefinition


class CustomToolDefinition(_Wire, kw_only=True):
    name: ToolName
    description: str | UnsetType = UNSET
    format: JsonObject | UnsetType = UNSET


class CustomTool(_Wire, kw_only=True, tag_field="type", tag="custom"):
    custom: CustomToolDefinition


Tool = FunctionTool | CustomTool


class ToolNameRef(_Wire, kw_only=True):
    name: str


class NamedToolChoice(_Wire, kw_only=True, tag_field="type", tag="function"):
    function: ToolNameRef


class NamedCustomToolChoice(_Wire, kw_only=True, tag_field="type", tag="custom"):
    custom: ToolNameRef


class AllowedTools(_Wire, kw_only=True):
    mode: Literal["auto", "required"]
    tools: list[JsonObject]


class AllowedToolsChoice(_Wire, kw_only=True, tag_field="type", tag="allowed_tools"):
    allowed_tools: AllowedTools


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice | NamedCustomToolChoice | AllowedToolsChoice

# ------------------------------------------------------------------------------------------ response format


class TextFormat(_Wire, kw_only=True, tag_field="type", tag="text"):
    pass


class JsonObjectFormat(_Wire, kw_only=True, tag_field="type", tag="json_object"):
    pass


class JsonSchema(_Wire, kw_only=True):
    name: Annotated[str, Meta(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | UnsetType = UNSET
    schema: JsonObject | UnsetType = UNSET
    strict: bool | UnsetType | None = UNSET


class JsonSchemaFormat(_Wire, kw_only=True, tag_field="type", tag="json_schema"):
    json_schema: JsonSchema


ResponseFormat = TextFormat | JsonObjectFormat | JsonSchemaFormat

# --------------------------------------------------------------------------------------------------- request


class StreamOptions(_Wire, kw_only=True):
    include_usage: bool | UnsetType | None = UNSET
    include_obfuscation: bool | UnsetType | None = UNSET


Probability = Annotated[float, Meta(ge=0, le=1)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]


class ChatCompletionRequest(_Wire, kw_only=True):
    """The fields of an OpenAI chat request the router validates; any other field passes through as sent."""

    model: str
    messages: Annotated[list[Message], Meta(min_length=1)]
    tools: list[Tool] | UnsetType | None = UNSET
    tool_choice: ToolChoice | UnsetType | None = UNSET
    parallel_tool_calls: bool | UnsetType | None = UNSET
    response_format: ResponseFormat | UnsetType | None = UNSET
    stream: bool | None = False
    stream_options: StreamOptions | UnsetType | None = UNSET
    max_tokens: Annotated[int, Meta(ge=1)] | UnsetType | None = UNSET
    max_completion_tokens: Annotated[int, Meta(ge=1)] | UnsetType | None = UNSET
    temperature: Annotated[float, Meta(ge=0, le=2)] | UnsetType | None = UNSET
    top_p: Probability | UnsetType | None = UNSET
    frequency_penalty: Penalty | UnsetType | None = UNSET
    presence_penalty: Penalty | UnsetType | None = UNSET
    logit_bias: dict[str, int] | UnsetType | None = UNSET
    stop: str | Annotated[list[str], Meta(max_length=4)] | UnsetType | None = UNSET
    seed: int | UnsetType | None = UNSET
    n: Annotated[int, Meta(ge=1, le=128)] | UnsetType | None = UNSET
    user: str | UnsetType = UNSET
    safety_identifier: str | UnsetType = UNSET
    prompt_cache_key: str | UnsetType = UNSET
    metadata: dict[str, str] | UnsetType | None = UNSET
    logprobs: bool | UnsetType | None = UNSET
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | UnsetType | None = UNSET
    reasoning_effort: str | UnsetType | None = UNSET
    service_tier: str | UnsetType | None = UNSET
    store: bool | UnsetType | None = UNSET
    modalities: list[str] | UnsetType | None = UNSET

    @property
    def include_usage(self) -> bool:
        """Whether the client asked for a usage chunk at the end of its stream."""
        options = self.stream_options
        return bool(self.stream and options and options.include_usage)


# -------------------------------------------------------------------------------------------------- responses


# Upstreams send null for counters they do not keep; adapters drop those (`Usage.drop_nulls`).
class PromptTokensDetails(_Wire, kw_only=True):
    cached_tokens: int | None | UnsetType = UNSET
    audio_tokens: int | None | UnsetType = UNSET


class CompletionTokensDetails(_Wire, kw_only=True):
    reasoning_tokens: int | None | UnsetType = UNSET
    audio_tokens: int | None | UnsetType = UNSET
    accepted_prediction_tokens: int | None | UnsetType = UNSET
    rejected_prediction_tokens: int | None | UnsetType = UNSET


class Usage(_Wire, kw_only=True):
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    total_tokens: int | None = 0
    prompt_tokens_details: PromptTokensDetails | UnsetType | None = UNSET
    completion_tokens_details: CompletionTokensDetails | UnsetType | None = UNSET
    # DeepSeek's names for cache accounting; adapters fold them into prompt_tokens_details.
    prompt_cache_hit_tokens: int | None | UnsetType = UNSET
    prompt_cache_miss_tokens: int | None | UnsetType = UNSET


class ErrorBody(_Wire, kw_only=True):
    """An error as upstreams send it: OpenAI's shape, or OpenRouter's (integer `code`, `metadata`)."""

    message: str = ""
    type: str | UnsetType | None = UNSET
    param: str | UnsetType | None = UNSET
    code: str | int | UnsetType | None = UNSET
    metadata: JsonObject | UnsetType | None = UNSET


class ErrorEnvelope(_Wire, kw_only=True):
    error: ErrorBody


class CompletionMessage(_Wire, kw_only=True):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | UnsetType = UNSET
    annotations: list[JsonObject] | UnsetType = UNSET
    audio: JsonObject | UnsetType | None = UNSET
    function_call: FunctionCall | UnsetType | None = UNSET
    reasoning_content: str | UnsetType | None = UNSET
    # OpenRouter's name for reasoning text; adapters move it to `reasoning_content`.
    reasoning: str | UnsetType | None = UNSET
    # Reasoning blocks with what a follow-up must send back (signatures, encrypted data), OpenRouter's shape:
    # `{"type": "reasoning.text", "text", "signature", "format", "index"}`, `{"type": "reasoning.encrypted",
    # "data", ...}`. A client that echoes the assistant message returns them; see `AssistantMessage`.
    reasoning_details: list[JsonObject] | UnsetType | None = UNSET


class Choice(_Wire, kw_only=True):
    index: int = 0
    message: CompletionMessage
    finish_reason: str | None = None
    logprobs: JsonObject | None = None
    # OpenRouter reports provider failures inside an HTTP 200 body here.
    error: ErrorBody | UnsetType = UNSET


class ChatCompletion(_Wire, kw_only=True):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | UnsetType | None = UNSET
    system_fingerprint: str | UnsetType | None = UNSET
    service_tier: str | UnsetType | None = UNSET


class ToolCallDeltaFunction(_Wire, kw_only=True):
    name: str | UnsetType | None = UNSET
    arguments: str | UnsetType | None = UNSET


class ToolCallDelta(_Wire, kw_only=True):
    index: int | UnsetType = UNSET
    id: str | UnsetType | None = UNSET
    type: Literal["function"] | UnsetType | None = UNSET
    function: ToolCallDeltaFunction | UnsetType = UNSET


class ChoiceDelta(_Wire, kw_only=True):
    role: str | UnsetType | None = UNSET
    content: str | UnsetType | None = UNSET
    refusal: str | UnsetType | None = UNSET
    tool_calls: list[ToolCallDelta] | UnsetType | None = UNSET
    reasoning_content: str | UnsetType | None = UNSET
    reasoning: str | UnsetType | None = UNSET
    # Entries of the message's `reasoning_details`, each carrying its `index` there (see `CompletionMessage`).
    reasoning_details: list[JsonObject] | UnsetType | None = UNSET


class ChunkChoice(_Wire, kw_only=True):
    index: int = 0
    delta: ChoiceDelta
    finish_reason: str | None = None
    logprobs: JsonObject | None = None
    error: ErrorBody | UnsetType = UNSET


class ChatCompletionChunk(_Wire, kw_only=True):
    # Defaults let an error-only event (`{"error": {...}}`) decode as a chunk.
    id: str = ""
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = []
    usage: Usage | UnsetType | None = UNSET
    system_fingerprint: str | UnsetType | None = UNSET
    service_tier: str | UnsetType | None = UNSET
    # A mid-stream failure (OpenRouter puts it at the top level of a chunk).
    error: ErrorBody | UnsetType = UNSET


# ----------------------------------------------------------------------------------------------------- models


class Model(_Wire, kw_only=True):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str


class ModelList(_Wire, kw_only=True):
    object: Literal["list"] = "list"
    data: list[Model]


def json_decoder(kind: type[Any]) -> msgspec.json.Decoder[Any]:
    """A reusable decoder for one wire type (decoders are cheap to call and costly to build)."""
    return msgspec.json.Decoder(kind)
