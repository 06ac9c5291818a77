"""A Responses request, and the stored conversation it continues, as a chat request.

Items become chat messages: `instructions` a leading system message; a user, system or developer message
the same role's message; an assistant message, and the function calls after it, one assistant message
with `tool_calls` (each `call_id` becomes the tool call's id); a function call's output a tool message. A
`reasoning` item's text goes back as the next assistant message's `reasoning_content` (which DeepSeek's
thinking mode requires after a tool call); reasoning that is only encrypted is OpenAI's alone and dropped.

The MCP items are the calls the router ran, and the model must see them as they happened: an `mcp_call`
joins the assistant message as a tool call (its item id the call's id, the function name the one the model
knows the tool by, from `ServerTools`), and its output or error follows as a tool message once the turn's
calls are over. `mcp_list_tools` says nothing to the model. An `mcp_approval_request` waits for its
`mcp_approval_response`: a declined one becomes the call and a tool message saying it was declined; an
approved one is shown by the `mcp_call` item that ran it, or, when it is this request's own answer and has
not run yet, is handed back (`ChatTranslation.approved`) for the router to run before the model's turn.

Settings map to their chat names: `max_output_tokens` to `max_completion_tokens`, `text.format` to
`response_format`, `reasoning.effort` to `reasoning_effort`, flat function tools to nested ones. `store`
and `metadata` stay with the router: they describe the stored response, not the upstream request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from app.responses.items import (
    FunctionCallInput,
    FunctionCallOutput,
    InputContent,
    InputFile,
    InputImage,
    InputMessage,
    InputText,
    MCPApprovalRequest,
    MCPApprovalResponse,
    MCPCall,
    MCPListTools,
    MCPToolExecutionError,
    OutputText,
    ReasoningInput,
    Refusal,
    ToolOutputContent,
)
from app.responses.wire import FormatJsonObject, FormatJsonSchema, ToolChoiceAllowed, ToolChoiceFunction, ToolChoiceMCP
from app.tools.names import local_names, public_name
from providers.errors import InvalidRequest
from providers.request import ChatRequest
from providers.schema import (
    UNSET,
    AllowedTools,
    AllowedToolsChoice,
    AssistantMessage,
    ChatCompletionRequest,
    ContentPart,
    DeveloperMessage,
    FilePart,
    FileRef,
    FunctionCall,
    FunctionDefinition,
    FunctionTool,
    FunctionToolCall,
    ImagePart,
    ImageUrl,
    JsonObjectFormat,
    JsonSchema,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    RefusalPart,
    StreamOptions,
    SystemMessage,
    TextPart,
    ToolCall,
    ToolMessage,
    ToolNameRef,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from msgspec import UnsetType

    from app.responses.decode import ResponsesRequest
    from app.responses.items import InputItem
    from app.responses.wire import FunctionTool as ResponsesTool
    from app.responses.wire import TextFormat, ToolChoice
    from providers.schema import ResponseFormat
    from providers.schema import ToolChoice as ChatToolChoice

__all__ = ["Approval", "ChatTranslation", "ServerTools", "chat_request"]

T = TypeVar("T")
# Chat has no "original" detail (full resolution): "high" is the nearest it has.
_IMAGE_DETAILS: dict[str, Literal["auto", "low", "high"]] = {
    "auto": "auto",
    "low": "low",
    "high": "high",
    "original": "high",
}


class ServerTools(Protocol):
    """What the registry says about a conversation's MCP items (`app.responses.mcp`)."""

    def function_name(self, server_label: str, name: str) -> str:
        """The function name the model calls a server's tool by."""
        ...

    def tool_choice(self, choice: ToolChoiceMCP) -> ChatToolChoice:
        """An `mcp` tool choice in chat's terms."""
        ...


@dataclass(frozen=True, slots=True)
class Approval:
    """A call the client approved in this request, which has not run yet."""

    approval_request_id: str
    server_label: str
    name: str
    arguments: str
    where: str
    """The approving item, as a `param` names it (`input[1]`)."""


@dataclass(frozen=True, slots=True)
class ChatTranslation:
    request: ChatRequest
    approved: list[Approval] = field(default_factory=list)


def chat_request(
    request: ResponsesRequest, history: list[InputItem], servers: ServerTools | None = None
) -> ChatTranslation:
    """The chat request for `request`, continuing `history` (the stored conversation, or nothing), and the
    calls it approves; `servers` names the tools of the conversation's MCP items."""
    create = request.create
    conversation = _Conversation(servers or _UnknownServers(), [*history, *request.input])
    for item in history:
        conversation.add(item, "previous_response_id", answering=False)
    for index, item in enumerate(request.input):
        conversation.add(item, f"input[{index}]", answering=True)
    messages = conversation.finished()
    if not messages:
        raise InvalidRequest(
            "`input` has no message to answer: send at least one.",
            param="input",
            code="missing_required_parameter",
        )
    if create.instructions:
        messages.insert(0, SystemMessage(content=create.instructions))
    choice = request.tool_choice
    if conversation.answered and choice not in ("none", "auto"):
        # The choice forced the call the client has just answered: forcing it again would ask again.
        choice = None
    params = ChatCompletionRequest(
        model=create.model,
        messages=messages,
        tools=[_chat_tool(tool) for tool in request.functions] or UNSET,
        tool_choice=_chat_tool_choice(choice, servers),
        parallel_tool_calls=_given(create.parallel_tool_calls),
        response_format=_response_format(request.text.format),
        stream=request.stream,
        # The Responses API always reports usage, so always ask for it.
        stream_options=StreamOptions(include_usage=True) if request.stream else UNSET,
        max_completion_tokens=_given(create.max_output_tokens),
        temperature=_given(create.temperature),
        top_p=_given(create.top_p),
        user=_given(create.user),
        safety_identifier=_given(create.safety_identifier),
        prompt_cache_key=_given(create.prompt_cache_key),
        reasoning_effort=_given(create.reasoning.effort if create.reasoning else None),
        service_tier=_given(create.service_tier),
    )
    verbosity = request.text.verbosity
    # "medium" is the default, and n8n sends it with every request: forwarding it would only risk upsetting
    # providers that do not know the field, for no change.
    extra = {"verbosity": verbosity} if verbosity and verbosity != "medium" else {}
    return ChatTranslation(ChatRequest.from_params(params, **extra), conversation.approved)


class _UnknownServers:
    """Names for MCP items when the request names no `mcp` tool: as the registry names a toolset's tools."""

    def function_name(self, server_label: str, name: str) -> str:
        return public_name(server_label, local_names(server_label, [name])[name])

    def tool_choice(self, choice: ToolChoiceMCP) -> ChatToolChoice:
        raise AssertionError("decode_request refuses an mcp tool choice without its mcp tool")


class _Conversation:
    """Builds chat messages item by item; `where` names an item in errors (its `param`)."""

    def __init__(self, servers: ServerTools, items: Iterable[InputItem]) -> None:
        self.servers = servers
        self.messages: list[Message] = []
        self.approved: list[Approval] = []
        self.answered = False
        """Whether this request answers approval requests."""
        # The assistant message later function calls of the same turn join.
        self._assistant: AssistantMessage | None = None
        self._reasoning: list[str] = []
        # The results of the router's calls in that message, which follow it once the turn's calls are over.
        self._results: list[ToolMessage] = []
        self._waiting: dict[str, MCPApprovalRequest] = {}
        self._ran = {item.approval_request_id for item in items if isinstance(item, MCPCall)}

    def finished(self) -> list[Message]:
        self._end_turn()
        return self.messages

    def add(self, item: InputItem, where: str, *, answering: bool) -> None:
        """Add one item; `answering`: it is this request's own (not the stored conversation's)."""
        if isinstance(item, MCPCall):
            self._call(item.id, item.server_label, item.name, item.arguments)
            self._results.append(ToolMessage(content=_mcp_output(item), tool_call_id=item.id))
            return
        if isinstance(item, MCPApprovalRequest):
            self._waiting[item.id] = item
            return
        if isinstance(item, MCPListTools):
            return
        if isinstance(item, FunctionCallInput):
            self._call(item.call_id, None, item.name, item.arguments)
            return
        self._end_turn()
        if isinstance(item, MCPApprovalResponse):
            self._answer(item, where, answering=answering)
        elif isinstance(item, InputMessage) and item.role == "assistant":
            content, refusal = _assistant_content(item.content, where)
            self._assistant = AssistantMessage(
                content=content, refusal=refusal, reasoning_content=self._take_reasoning()
            )
            self.messages.append(self._assistant)
        elif isinstance(item, ReasoningInput):
            self._reasoning.extend(_reasoning_text(item))
        elif isinstance(item, FunctionCallOutput):
            self.messages.append(
                ToolMessage(content=_tool_output(item.output, f"{where}.output"), tool_call_id=item.call_id)
            )
        elif item.role == "user":
            self.messages.append(UserMessage(content=_user_content(item.content, where)))
        elif item.role == "system":
            self.messages.append(SystemMessage(content=_text_content(item.content, where, "system")))
        else:
            self.messages.append(DeveloperMessage(content=_text_content(item.content, where, "developer")))

    def _call(self, call_id: str, server_label: str | None, name: str, arguments: str) -> None:
        """A tool call of the current assistant message (a function of the client's, or a server's tool)."""
        if self._assistant is None:
            self._assistant = AssistantMessage(reasoning_content=self._take_reasoning())
            self.messages.append(self._assistant)
        if server_label is not None:
            name = self.servers.function_name(server_label, name)
        calls: list[ToolCall] = self._assistant.tool_calls or []
        calls.append(FunctionToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments)))
        self._assistant.tool_calls = calls

    def _end_turn(self) -> None:
        """Close the current assistant message: the results of the router's calls in it follow."""
        self.messages += self._results
        self._results = []
        self._assistant = None

    def _answer(self, item: MCPApprovalResponse, where: str, *, answering: bool) -> None:
        request = self._waiting.pop(item.approval_request_id, None)
        if request is None:
            raise InvalidRequest(
                f"{where} answers the approval request '{item.approval_request_id}', which the conversation "
                "does not hold, or which is answered already. Continue the response that asked for it "
                "(`previous_response_id`), or send the whole conversation.",
                param=f"{where}.approval_request_id",
                code="invalid_value",
            )
        self.answered = self.answered or answering
        if item.approve:
            if answering and request.id not in self._ran:
                self.approved.append(Approval(request.id, request.server_label, request.name, request.arguments, where))
            return  # the `mcp_call` item that ran it says how it went
        self._call(request.id, request.server_label, request.name, request.arguments)
        declined = "The user declined to run this tool call." + (f" Reason: {item.reason}" if item.reason else "")
        self._results.append(ToolMessage(content=declined, tool_call_id=request.id))
        self._end_turn()

    def _take_reasoning(self) -> str | UnsetType:
        text = "".join(self._reasoning)
        self._reasoning.clear()
        return text or UNSET


def _mcp_output(item: MCPCall) -> str:
    """What the model was told of a call the router ran."""
    error = item.error
    if error is None:
        return item.output or ""
    if isinstance(error, MCPToolExecutionError):
        content = error.content
        parts = content if isinstance(content, list) else [content]
        text = "\n".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in parts)
        return f"Error: {text}"
    return f"Error: {error.message}"


# ---------------------------------------------------------------------------------------------------- content


def _user_content(content: str | list[InputContent], where: str) -> str | list[ContentPart]:
    if isinstance(content, str):
        return content
    parts: list[ContentPart] = []
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        if isinstance(part, InputText | OutputText):
            parts.append(TextPart(text=part.text))
        elif isinstance(part, InputImage):
            parts.append(_image(part, at))
        elif isinstance(part, InputFile):
            parts.append(_file(part, at))
        else:
            raise _unsupported_part(at, "a refusal", "user")
    return _collapse(parts)


def _text_content(content: str | list[InputContent], where: str, role: str) -> str | list[TextPart]:
    if isinstance(content, str):
        return content
    parts: list[TextPart] = []
    for index, part in enumerate(content):
        if not isinstance(part, InputText | OutputText):
            raise _unsupported_part(f"{where}.content[{index}]", _kind(part), role)
        parts.append(TextPart(text=part.text))
    return _collapse(parts)


def _assistant_content(
    content: str | list[InputContent], where: str
) -> tuple[str | list[TextPart | RefusalPart] | None, str | UnsetType]:
    """An assistant message's content and refusal, as chat puts them."""
    if isinstance(content, str):
        return content, UNSET
    parts: list[TextPart | RefusalPart] = []
    refusals: list[str] = []
    for index, part in enumerate(content):
        if isinstance(part, InputText | OutputText):
            parts.append(TextPart(text=part.text))
        elif isinstance(part, Refusal):
            refusals.append(part.refusal)
        else:
            raise _unsupported_part(f"{where}.content[{index}]", _kind(part), "assistant")
    text = _collapse(parts) if parts else None
    return text, "".join(refusals) or UNSET


def _tool_output(output: str | list[ToolOutputContent], where: str) -> str | list[TextPart]:
    if isinstance(output, str):
        return output
    parts: list[TextPart] = []
    for index, part in enumerate(output):
        if not isinstance(part, InputText):
            raise InvalidRequest(
                f"{where}[{index}] is {_kind(part)}, but chat models take only text as a tool's output.",
                param=f"{where}[{index}]",
                code="unsupported_value",
            )
        parts.append(TextPart(text=part.text))
    return _collapse(parts)


def _image(part: InputImage, where: str) -> ImagePart:
    if part.image_url is None:
        raise InvalidRequest(
            f"{where} refers to an uploaded file, and the router has no file storage: send the image as "
            "`image_url` (a URL or a data URL).",
            param=f"{where}.file_id",
            code="unsupported_value",
        )
    detail = _IMAGE_DETAILS.get(part.detail, UNSET)
    return ImagePart(image_url=ImageUrl(url=part.image_url, detail=detail))


def _file(part: InputFile, where: str) -> FilePart:
    if part.file_url is not UNSET:
        raise InvalidRequest(
            f"{where} is a file by URL, which chat models cannot fetch: send it as `file_data`.",
            param=f"{where}.file_url",
            code="unsupported_value",
        )
    return FilePart(file=FileRef(file_id=_given(part.file_id), file_data=part.file_data, filename=part.filename))


def _reasoning_text(item: ReasoningInput) -> list[str]:
    """The reasoning to send back: its full text when the client kept it, else its summary."""
    if item.content:
        return [part.text for part in item.content]
    return ["\n\n".join(part.text for part in item.summary if part.text)] if item.summary else []


def _collapse(parts: list[T]) -> str | list[T]:
    """One text part as a plain string, which every provider takes; several as the list they came in."""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return parts


def _kind(part: InputContent) -> str:
    return {InputImage: "an image", InputFile: "a file", Refusal: "a refusal"}.get(type(part), "text")


def _unsupported_part(where: str, kind: str, role: str) -> InvalidRequest:
    return InvalidRequest(
        f"{where} is {kind}, which a chat model does not take in a {role} message.",
        param=where,
        code="unsupported_value",
    )


# --------------------------------------------------------------------------------------------------- settings


def _chat_tool(tool: ResponsesTool) -> FunctionTool:
    return FunctionTool(
        function=FunctionDefinition(
            name=tool.name,
            description=_given(tool.description),
            parameters=_given(tool.parameters),
            strict=_given(tool.strict),
        )
    )


def _chat_tool_choice(choice: ToolChoice | None, servers: ServerTools | None) -> ChatToolChoice | UnsetType:
    if choice is None:
        return UNSET
    if isinstance(choice, str):
        return choice
    if isinstance(choice, ToolChoiceFunction):
        return NamedToolChoice(function=ToolNameRef(name=choice.name))
    if isinstance(choice, ToolChoiceAllowed):
        tools = [{"type": "function", "function": {"name": tool["name"]}} for tool in choice.tools]
        return AllowedToolsChoice(allowed_tools=AllowedTools(mode=choice.mode, tools=tools))
    return (servers or _UnknownServers()).tool_choice(choice)


def _response_format(text_format: TextFormat) -> ResponseFormat | UnsetType:
    if isinstance(text_format, FormatJsonSchema):
        return JsonSchemaFormat(
            json_schema=JsonSchema(
                name=text_format.name,
                description=_given(text_format.description),
                schema=text_format.schema,
                strict=_given(text_format.strict),
            )
        )
    if isinstance(text_format, FormatJsonObject):
        return JsonObjectFormat()
    # Plain text is every model's default: saying so would only trouble providers without response_format.
    return UNSET


def _given(value: T | UnsetType | None) -> T | UnsetType:
    """Unset where the client gave nothing, so the upstream body leaves the field out, not null."""
    return UNSET if value is None else value
