"""An OpenAI chat request, translated to Anthropic's Messages API.

    system / developer messages     the top-level `system`, as text blocks, in order
    user content                    text blocks (never an empty one) and images (a data URL as base64, any
                                    other URL as a URL source)
    assistant messages              thinking blocks from `reasoning_details` (signatures kept), then text,
                                    then `tool_use` blocks whose `input` is the call's parsed arguments
    tool messages                   `tool_result` blocks, first in the next user turn; consecutive ones
                                    share one turn, in order; `is_error` when the message says so
    consecutive same-role turns     one turn (Anthropic's roles alternate)
    tools / tool_choice             `input_schema` (and `strict` when true); auto, any (`required`), tool
                                    (a named function), none; `parallel_tool_calls: false` as
                                    `disable_parallel_tool_use`; `allowed_tools` sends only the tools it allows
    max_completion_tokens / max_tokens   `max_tokens`, which Anthropic requires: a default when neither is set
    stop, temperature, top_p        `stop_sequences`; the same (temperature at most 1, Anthropic's maximum)
    response_format json_schema     `output_config.format` (Anthropic's structured outputs)
    reasoning_effort                `thinking` (see `_thinking`)
    user / safety_identifier        `metadata.user_id`
    thinking, output_config, top_k, cache_control
                                    Anthropic's own fields, when a client sends them, go as sent and win

What Anthropic cannot take (n > 1, logprobs, audio or file parts, custom tools) raises `UpstreamCannotServe`,
so routing moves on to a target that can. OpenAI's penalties, `seed` and `logit_bias` have no counterpart
and are left out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from providers import anthropic_schema as wire
from providers.errors import UpstreamCannotServe, UpstreamRejected
from providers.schema import (
    UNSET,
    AllowedToolsChoice,
    AssistantMessage,
    DeveloperMessage,
    FunctionTool,
    FunctionToolCall,
    ImagePart,
    JsonSchemaFormat,
    NamedToolChoice,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

if TYPE_CHECKING:
    from providers.request import ChatRequest
    from providers.schema import ChatCompletionRequest, Message

__all__ = ["encode_request", "uses_adaptive_thinking"]

_encoder = msgspec.json.Encoder()
_arguments = msgspec.json.Decoder(dict[str, msgspec.Raw])
# Fields of Anthropic's own that a client may send (the OpenAI SDKs' `extra_body`); they go upstream as sent.
_ANTHROPIC_FIELDS = ("thinking", "output_config", "top_k", "cache_control")
_DATA_URL = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)", re.DOTALL)
_CLAUDE_VERSION = re.compile(r"claude-(?:[a-z]+-)?(?P<major>\d+)(?:-(?P<minor>\d{1,2})(?!\d))?")

# `reasoning_effort` on models with a thinking budget: the budget, in tokens (Anthropic's minimum is 1024).
_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576}
# ... and on models with adaptive thinking: Anthropic's `effort`.
_EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}
_MIN_BUDGET = 1024

Turns = list[wire.MessageParam]


def encode_request(request: ChatRequest, model: str, *, stream: bool, default_max_tokens: int) -> bytes:
    """The body of `POST /v1/messages` for `request`, sent to `model`."""
    params = request.params
    _refuse_what_anthropic_cannot_do(params)
    system, turns = _conversation(params.messages)
    tools = _tools(params)
    choice = _tool_choice(params) if tools else None
    limit = params.max_completion_tokens or params.max_tokens
    client_max = limit if isinstance(limit, int) else None
    body: dict[str, Any] = {"model": model, "max_tokens": client_max or default_max_tokens, "messages": turns}
    if system:
        body["system"] = system
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    if stream:
        body["stream"] = True
    if isinstance(params.stop, str):
        body["stop_sequences"] = [params.stop]
    elif params.stop:
        body["stop_sequences"] = params.stop
    forced = isinstance(choice, wire.ToolChoiceAny | wire.ToolChoiceTool)
    thinking = None if forced or not _thinking_allowed(turns) else _thinking(params, model, body, client_max)
    if thinking is None:
        _final_turn_without_thinking(turns)
        if isinstance(params.temperature, int | float):
            body["temperature"] = min(float(params.temperature), 1.0)
        if isinstance(params.top_p, int | float):
            body["top_p"] = params.top_p
    else:
        # Anthropic refuses temperature with thinking on, and top_p below 0.95.
        body["thinking"] = thinking
        if isinstance(params.top_p, int | float) and params.top_p >= 0.95:
            body["top_p"] = params.top_p
    if isinstance(params.response_format, JsonSchemaFormat):
        schema = params.response_format.json_schema.schema
        output = body.setdefault("output_config", {})
        output["format"] = wire.JsonOutputFormat(schema=schema if isinstance(schema, dict) else {"type": "object"})
    user = params.safety_identifier or params.user
    if isinstance(user, str) and user:
        body["metadata"] = wire.Metadata(user_id=user)
    for name in _ANTHROPIC_FIELDS:
        if name in request.fields:
            body[name] = request.fields[name]
    return _encoder.encode(body)


def uses_adaptive_thinking(model: str) -> bool:
    """Whether `model` takes `thinking: {"type": "adaptive"}` with an `effort` rather than a token budget.

    Adaptive thinking came with Claude 4.6, and later models refuse a budget; earlier ones know only the
    budget. The model id says which (`claude-opus-4-6`, `claude-sonnet-5`, `claude-3-7-sonnet-...`); an id
    without a version keeps the budget form.
    """
    if "mythos" in model:
        return True
    version = _CLAUDE_VERSION.search(model)
    if version is None:
        return False
    return (int(version["major"]), int(version["minor"] or 0)) >= (4, 6)


# ----------------------------------------------------------------------------------------------- refusals


def _cannot(message: str, param: str) -> UpstreamCannotServe:
    return UpstreamCannotServe(
        f"anthropic cannot take {message} (at '{param}').", provider="anthropic", code="unsupported_by_provider"
    )


def _refuse_what_anthropic_cannot_do(params: ChatCompletionRequest) -> None:
    if isinstance(params.n, int) and params.n > 1:
        raise _cannot("more than one choice", "n")
    if params.logprobs:
        raise _cannot("log probabilities", "logprobs")
    if params.modalities and "audio" in params.modalities:
        raise _cannot("audio output", "modalities")
    for position, tool in enumerate(params.tools or ()):
        if not isinstance(tool, FunctionTool):
            raise _cannot("custom tools", f"tools[{position}]")


# ------------------------------------------------------------------------------------------- conversation


def _conversation(messages: list[Message]) -> tuple[list[wire.TextBlock], Turns]:
    """The system blocks and the alternating turns of an OpenAI conversation."""
    system: list[wire.TextBlock] = []
    turns: Turns = []
    for position, message in enumerate(messages):
        where = f"messages[{position}]"
        if isinstance(message, SystemMessage | DeveloperMessage):
            system += _texts(message.content)
        elif isinstance(message, UserMessage):
            _add(turns, "user", _user_blocks(message, where))
        elif isinstance(message, AssistantMessage):
            _add(turns, "assistant", _assistant_blocks(message, where))
        elif isinstance(message, ToolMessage):
            _add_tool_result(turns, message)
        else:
            raise _cannot("function messages (use tool messages)", where)
    return system, turns


def _add(turns: Turns, role: Literal["user", "assistant"], blocks: list[wire.RequestBlock]) -> None:
    if not blocks:
        return  # Anthropic refuses empty turns: a message with nothing to say is left out
    last = turns[-1] if turns else None
    if last is not None and last.role == role and isinstance(last.content, list):
        last.content += blocks
    else:
        turns.append(wire.MessageParam(role=role, content=blocks))


def _add_tool_result(turns: Turns, message: ToolMessage) -> None:
    content: str | list[wire.TextBlock | wire.ImageBlock]
    content = message.content if isinstance(message.content, str) else list(_texts(message.content))
    result = wire.ToolResultBlock(
        tool_use_id=message.tool_call_id, content=content, is_error=True if message.is_error else UNSET
    )
    last = turns[-1] if turns else None
    if last is None or last.role != "user" or not isinstance(last.content, list):
        turns.append(wire.MessageParam(role="user", content=[result]))
        return
    # Anthropic wants a turn's tool results before anything else in it.
    results = sum(isinstance(block, wire.ToolResultBlock) for block in last.content)
    last.content.insert(results, result)


def _texts(content: str | list[TextPart]) -> list[wire.TextBlock]:
    if isinstance(content, str):
        return [wire.TextBlock(text=content)] if content else []
    return [wire.TextBlock(text=part.text) for part in content if part.text]


def _user_blocks(message: UserMessage, where: str) -> list[wire.RequestBlock]:
    if isinstance(message.content, str):
        return list(_texts(message.content))
    blocks: list[wire.RequestBlock] = []
    for position, part in enumerate(message.content):
        if isinstance(part, TextPart):
            blocks += _texts([part])
        elif isinstance(part, ImagePart):
            blocks.append(_image(part.image_url.url))
        else:
            raise _cannot(f"{part.__struct_config__.tag} content", f"{where}.content[{position}]")
    return blocks


def _image(url: str) -> wire.ImageBlock:
    data = _DATA_URL.fullmatch(url)
    if data is not None:
        return wire.ImageBlock(source=wire.Base64ImageSource(media_type=data["type"], data=data["data"]))
    return wire.ImageBlock(source=wire.UrlImageSource(url=url))


def _assistant_blocks(message: AssistantMessage, where: str) -> list[wire.RequestBlock]:
    blocks: list[wire.RequestBlock] = list(_thinking_blocks(message.reasoning_details or ()))
    if isinstance(message.content, str):
        blocks += _texts(message.content)
    elif message.content:
        blocks += _texts("".join(part.text if isinstance(part, TextPart) else part.refusal for part in message.content))
    for position, call in enumerate(message.tool_calls or ()):
        if not isinstance(call, FunctionToolCall):
            raise _cannot("custom tool calls", f"{where}.tool_calls[{position}]")
        arguments = call.function.arguments.strip() or "{}"
        try:
            parsed = _arguments.decode(arguments)
        except msgspec.DecodeError:
            raise _cannot("tool-call arguments that are not a JSON object", f"{where}.tool_calls[{position}]") from None
        blocks.append(wire.ToolUseBlock(id=call.id, name=call.function.name, input=parsed))
    return blocks


def _thinking_blocks(details: Any) -> list[wire.ThinkingBlock | wire.RedactedThinkingBlock]:
    """The thinking blocks an assistant message carried in `reasoning_details`, in their order.

    Only Anthropic's own entries count (no `format`, or an `anthropic-` one): a thinking block without its
    signature would be refused, and another provider's reasoning means nothing to Claude.
    """
    entries = [detail for detail in details if isinstance(detail, dict)]
    entries.sort(key=lambda detail: detail["index"] if isinstance(detail.get("index"), int) else 0)
    blocks: list[wire.ThinkingBlock | wire.RedactedThinkingBlock] = []
    for detail in entries:
        form = detail.get("format")
        if form is not None and not (isinstance(form, str) and form.startswith("anthropic-")):
            continue
        kind, signature, data = detail.get("type"), detail.get("signature"), detail.get("data")
        if kind == "reasoning.text" and isinstance(signature, str) and signature:
            text = detail.get("text")
            blocks.append(wire.ThinkingBlock(thinking=text if isinstance(text, str) else "", signature=signature))
        elif kind == "reasoning.encrypted" and isinstance(data, str) and data:
            blocks.append(wire.RedactedThinkingBlock(data=data))
    return blocks


# ------------------------------------------------------------------------------------------------- tools


def _tools(params: ChatCompletionRequest) -> list[wire.ToolDefinition]:
    tools = [tool for tool in params.tools or () if isinstance(tool, FunctionTool)]
    choice = params.tool_choice
    if isinstance(choice, AllowedToolsChoice):
        allowed = {
            entry.get("function", {}).get("name") for entry in choice.allowed_tools.tools if isinstance(entry, dict)
        }
        tools = [tool for tool in tools if tool.function.name in allowed]
    return [
        wire.ToolDefinition(
            name=tool.function.name,
            description=tool.function.description,
            input_schema=tool.function.parameters
            if isinstance(tool.function.parameters, dict)
            else {"type": "object", "properties": {}},
            strict=True if tool.function.strict else UNSET,
        )
        for tool in tools
    ]


def _tool_choice(params: ChatCompletionRequest) -> wire.ToolChoice | None:
    choice = params.tool_choice
    single = True if params.parallel_tool_calls is False else UNSET
    if choice == "none":
        return wire.ToolChoiceNone()
    if choice == "required":
        return wire.ToolChoiceAny(disable_parallel_tool_use=single)
    if isinstance(choice, NamedToolChoice):
        return wire.ToolChoiceTool(name=choice.function.name, disable_parallel_tool_use=single)
    if isinstance(choice, AllowedToolsChoice) and choice.allowed_tools.mode == "required":
        return wire.ToolChoiceAny(disable_parallel_tool_use=single)
    if choice in (None, UNSET, "auto") or isinstance(choice, AllowedToolsChoice):
        return wire.ToolChoiceAuto(disable_parallel_tool_use=single) if single is True else None
    raise _cannot("a custom tool choice", "tool_choice")


# ---------------------------------------------------------------------------------------------- thinking


def _thinking(
    params: ChatCompletionRequest, model: str, body: dict[str, Any], client_max: int | None
) -> wire.ThinkingConfig | None:
    """`thinking` for the request's `reasoning_effort`, with `body`'s `max_tokens` and `output_config` to match.

    Adaptive models get `{"type": "adaptive"}` and the effort as `output_config.effort` (`minimal` is
    `low`). Others get a token budget (`_BUDGETS`): added to the default `max_tokens` when the client set
    none, or, when the client's `max_tokens` cannot hold the budget, half of it; a budget under Anthropic's
    minimum of 1024 leaves thinking off. `none`, or no effort, leaves it off too.
    """
    effort = params.reasoning_effort
    if not isinstance(effort, str) or effort == "none":
        return None
    if effort not in _EFFORTS:
        raise UpstreamRejected(
            f"anthropic: reasoning_effort {effort!r} is not one of {', '.join(['none', *_EFFORTS])}.",
            provider="anthropic",
            code="invalid_value",
        )
    if uses_adaptive_thinking(model):
        body.setdefault("output_config", {})["effort"] = _EFFORTS[effort]
        return wire.ThinkingAdaptive()
    budget = _BUDGETS.get(effort, _BUDGETS["xhigh"])
    if client_max is None:
        body["max_tokens"] += budget
    elif budget >= client_max:
        budget = client_max // 2
    return wire.ThinkingEnabled(budget_tokens=budget) if budget >= _MIN_BUDGET else None


def _thinking_allowed(turns: Turns) -> bool:
    """Whether thinking can be on: Anthropic refuses it when the last assistant turn that called tools does not
    start with its thinking block (a client that dropped `reasoning_details`). Thinking is then left off for
    the request, which Anthropic accepts."""
    for turn in reversed(turns):
        if turn.role != "assistant" or not isinstance(turn.content, list):
            continue
        if not any(isinstance(block, wire.ToolUseBlock) for block in turn.content):
            return True
        return isinstance(turn.content[0], wire.ThinkingBlock | wire.RedactedThinkingBlock)
    return True


def _final_turn_without_thinking(turns: Turns) -> None:
    """With thinking off, Anthropic refuses thinking blocks in a final (prefilled) assistant turn: drop them."""
    if turns and turns[-1].role == "assistant" and isinstance(turns[-1].content, list):
        thinking = wire.ThinkingBlock | wire.RedactedThinkingBlock
        kept: list[wire.RequestBlock] = [block for block in turns[-1].content if not isinstance(block, thinking)]
        if kept:
            turns[-1].content = kept
        else:
            turns.pop()
