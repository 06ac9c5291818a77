"""A Messages request as a chat request: what every Anthropic client's request becomes before routing.

Messages become chat messages, in order:

- `system` (a string or text blocks) a leading system message; a `system` message inside `messages` a
  system message where it stands;
- a user message's `tool_result` blocks one tool message each, in their order and first, since chat wants
  them right after the assistant message that made the calls; its text and images one user message after
  them (base64 images as data URLs);
- an assistant message one assistant message: its text as `content`, `tool_use` blocks as `tool_calls`
  (ids kept, `input` as JSON arguments), `thinking` as `reasoning_content`, which DeepSeek's thinking mode
  needs back after tool calls. Chat has no place for a thinking block's signature or for
  `redacted_thinking`, which only Anthropic can read: they are left out.

The text blocks of one message are joined by a blank line into one string, which every chat provider takes;
empty ones (which Anthropic rejects) are dropped. A tool result with `is_error` reaches the model as
`Error: <content>`, since chat has no such flag. Images in a tool result or an assistant message, and
images by file id, are refused: chat has no place for them, and the router no file storage.

Settings: `max_tokens` to `max_completion_tokens`, `stop_sequences` to `stop`, `temperature` and `top_p`
as they are, `top_k` passed on as a field of its own, `metadata.user_id` to `user`, tools to function tools
(`input_schema` as `parameters`), `tool_choice` auto / any / tool / none to auto / required / named / none
(`disable_parallel_tool_use` to `parallel_tool_calls: false`), `output_config.format` to a `json_schema`
response format, and `output_config.effort`, else the thinking budget, to `reasoning_effort` (see
`reasoning_effort`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec

from providers.anthropic_schema import (
    Base64ImageSource,
    ImageBlock,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ThinkingEnabled,
    ToolChoiceAny,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolUseBlock,
    UrlImageSource,
)
from providers.errors import InvalidRequest
from providers.request import ChatRequest
from providers.schema import (
    UNSET,
    AssistantMessage,
    ChatCompletionRequest,
    ContentPart,
    FunctionCall,
    FunctionDefinition,
    FunctionTool,
    FunctionToolCall,
    ImagePart,
    ImageUrl,
    JsonSchema,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    StreamOptions,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    ToolNameRef,
    UserMessage,
)

if TYPE_CHECKING:
    from msgspec import UnsetType

    from providers.anthropic_schema import MessagesRequest, RequestBlock, ToolChoice, ToolDefinition
    from providers.schema import ResponseFormat
    from providers.schema import ToolChoice as ChatToolChoice

__all__ = ["chat_request", "reasoning_effort"]

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
# Thinking budgets (tokens) up to which chat's lower efforts are asked for; above the last, "high".
_EFFORT_BUDGETS = ((4096, "low"), (16384, "medium"))
# The name chat requires for a response format's schema; Anthropic's output format has none.
_OUTPUT_SCHEMA_NAME = "output"


def chat_request(request: MessagesRequest) -> ChatRequest:
    """The chat request that answers `request`."""
    messages: list[Message] = []
    if request.system is not UNSET and (system := _text(request.system, "system")):
        messages.append(SystemMessage(content=system))
    for index, message in enumerate(request.messages):
        where = f"messages[{index}]"
        if message.role == "user":
            messages += _user(message.content, where)
        elif message.role == "assistant":
            if (assistant := _assistant(message.content, where)) is not None:
                messages.append(assistant)
        elif system := _text(message.content, where):
            messages.append(SystemMessage(content=system))
    if not messages:
        raise InvalidRequest("messages: there is no message to answer.", param="messages", code="invalid_value")
    tools: list[Tool] = [_chat_tool(tool) for tool in request.tools or ()]
    choice = request.tool_choice
    serial = isinstance(choice, ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool) and choice.disable_parallel_tool_use
    metadata = request.metadata
    params = ChatCompletionRequest(
        model=request.model,
        messages=messages,
        tools=tools or UNSET,
        tool_choice=_chat_tool_choice(choice) if tools else UNSET,
        parallel_tool_calls=False if tools and serial is True else UNSET,
        response_format=_response_format(request),
        stream=request.stream is True,
        # Anthropic's answers always report usage, so always ask for it.
        stream_options=StreamOptions(include_usage=True) if request.stream is True else UNSET,
        max_completion_tokens=request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stop=request.stop_sequences or UNSET,
        user=_given(metadata.user_id) if metadata else UNSET,
        reasoning_effort=reasoning_effort(request),
    )
    extra = {"top_k": request.top_k} if request.top_k is not UNSET else {}
    return ChatRequest.from_params(params, **extra)


def reasoning_effort(request: MessagesRequest) -> str | UnsetType:
    """Chat's `reasoning_effort` for the request: `output_config.effort` when given; otherwise, for thinking
    with a budget, low up to 4,096 tokens, medium up to 16,384, high above. Adaptive or disabled thinking
    leaves the model's default."""
    output = request.output_config
    if output and output.effort:
        return output.effort
    thinking = request.thinking
    if isinstance(thinking, ThinkingEnabled):
        return next((effort for limit, effort in _EFFORT_BUDGETS if thinking.budget_tokens <= limit), "high")
    return UNSET


# --------------------------------------------------------------------------------------------------- messages


def _user(content: str | list[RequestBlock], where: str) -> list[Message]:
    """A user turn: its tool results as tool messages, in order, then what the user said."""
    if isinstance(content, str):
        return [UserMessage(content=content)]
    results: list[Message] = []
    parts: list[ContentPart] = []
    for index, block in enumerate(content):
        at = f"{where}.content[{index}]"
        if isinstance(block, ToolResultBlock):
            results.append(ToolMessage(content=_tool_result(block, at), tool_call_id=block.tool_use_id))
        elif isinstance(block, TextBlock):
            if block.text:
                parts.append(TextPart(text=block.text))
        elif isinstance(block, ImageBlock):
            parts.append(_image(block, at))
        else:
            raise _misplaced(block, at, "user")
    if parts:
        texts = [part.text for part in parts if isinstance(part, TextPart)]
        joined = "\n\n".join(texts) if len(texts) == len(parts) else None
        results.append(UserMessage(content=joined if joined is not None else parts))
    return results


def _assistant(content: str | list[RequestBlock], where: str) -> AssistantMessage | None:
    """An assistant turn as one assistant message (None when it said nothing a chat model can read)."""
    if isinstance(content, str):
        return AssistantMessage(content=content) if content else None
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(content):
        if isinstance(block, TextBlock):
            if block.text:
                texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            arguments = _encoder.encode(block.input).decode()
            calls.append(FunctionToolCall(id=block.id, function=FunctionCall(name=block.name, arguments=arguments)))
        elif isinstance(block, ThinkingBlock):
            if block.thinking:
                reasoning.append(block.thinking)
        elif not isinstance(block, RedactedThinkingBlock):
            raise _misplaced(block, f"{where}.content[{index}]", "assistant")
    if not (texts or calls or reasoning):
        return None
    return AssistantMessage(
        content="\n\n".join(texts) or None,
        tool_calls=calls or UNSET,
        reasoning_content="\n\n".join(reasoning) or UNSET,
    )


def _tool_result(block: ToolResultBlock, where: str) -> str:
    content = block.content
    if isinstance(content, str):
        text = content
    else:
        texts: list[str] = []
        for index, part in enumerate(content):
            if isinstance(part, ImageBlock):
                raise InvalidRequest(
                    f"{where}.content[{index}] is an image, but chat models take only text as a tool's result.",
                    param=f"{where}.content[{index}]",
                    code="unsupported_value",
                )
            if part.text:
                texts.append(part.text)
        text = "\n\n".join(texts)
    return f"Error: {text}" if block.is_error is True else text


def _text(content: str | list[TextBlock] | list[RequestBlock], where: str) -> str:
    """System text: a string, or text blocks joined."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for index, block in enumerate(content):
        if not isinstance(block, TextBlock):
            raise _misplaced(block, f"{where}.content[{index}]", "system")
        if block.text:
            texts.append(block.text)
    return "\n\n".join(texts)


def _image(block: ImageBlock, where: str) -> ImagePart:
    source = block.source
    if isinstance(source, Base64ImageSource):
        return ImagePart(image_url=ImageUrl(url=f"data:{source.media_type};base64,{source.data}"))
    if isinstance(source, UrlImageSource):
        return ImagePart(image_url=ImageUrl(url=source.url))
    raise InvalidRequest(
        f"{where} refers to an uploaded file, and the router has no file storage: send the image as base64 "
        "data or by URL.",
        param=f"{where}.source",
        code="unsupported_value",
    )


def _misplaced(block: RequestBlock, where: str, role: str) -> InvalidRequest:
    kind = type(block).__struct_config__.tag
    return InvalidRequest(
        f"{where} is a {kind!r} block, which a {role} message cannot hold.", param=f"{where}.type", code="invalid_value"
    )


# --------------------------------------------------------------------------------------------------- settings


def _chat_tool(tool: ToolDefinition) -> FunctionTool:
    return FunctionTool(
        function=FunctionDefinition(
            name=tool.name,
            description=tool.description,
            parameters=tool.input_schema,
            strict=tool.strict,
        )
    )


def _chat_tool_choice(choice: ToolChoice | UnsetType) -> ChatToolChoice | UnsetType:
    if isinstance(choice, ToolChoiceAuto):
        return "auto"
    if isinstance(choice, ToolChoiceAny):
        return "required"
    if isinstance(choice, ToolChoiceTool):
        return NamedToolChoice(function=ToolNameRef(name=choice.name))
    if isinstance(choice, ToolChoiceNone):
        return "none"
    return UNSET


def _response_format(request: MessagesRequest) -> ResponseFormat | UnsetType:
    output = request.output_config
    if not output or not output.format:
        return UNSET
    return JsonSchemaFormat(
        json_schema=JsonSchema(name=_OUTPUT_SCHEMA_NAME, schema=output.format.schema, strict=True),
    )


def _given(value: T | UnsetType | None) -> T | UnsetType:
    """Unset where the client gave nothing, so the upstream body leaves the field out, not null."""
    return UNSET if value is None else value
