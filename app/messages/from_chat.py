"""A chat answer as an Anthropic message: content blocks, stop reason and usage.

The content is, in this order: a `thinking` block when the model sent reasoning text, a `text` block with
its text (or its refusal), and a `tool_use` block per tool call, whose id is the upstream's call id and whose
`input` is the call's arguments parsed (`{}` when it took none). An answer with nothing to say has no block,
as Anthropic's can. Chat keeps no signature for reasoning, so a thinking block's `signature` is empty.

Tool arguments that are not a JSON object cannot be an Anthropic `input`: the answer fails with a 502
rather than hand an agent a call it cannot run. The stream writer (`app.messages.stream`) builds the same
blocks from events.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import msgspec

from providers.anthropic_schema import Message, MessageDeltaUsage, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from providers.errors import UpstreamProtocolError
from providers.schema import FunctionToolCall

if TYPE_CHECKING:
    from providers.anthropic_schema import ResponseBlock, StopReason
    from providers.schema import ChatCompletion
    from providers.schema import Usage as ChatUsage

__all__ = ["delta_usage", "message_from_completion", "new_message_id", "stop_reason", "tool_input", "usage"]

_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_decoder = msgspec.json.Decoder()


def new_message_id() -> str:
    """An id in Anthropic's style: `msg_…`."""
    return f"msg_{secrets.token_hex(12)}"


def message_from_completion(completion: ChatCompletion, *, model: str, provider: str) -> Message:
    """The message for a (normalised) chat completion: its first choice is the answer. `model` is the one
    asked for, reported when the upstream named none; `provider` is named if the answer cannot be told."""
    choice = completion.choices[0] if completion.choices else None
    content: list[ResponseBlock] = []
    refused = False
    if choice is not None:
        answer = choice.message
        if answer.reasoning_content:
            content.append(ThinkingBlock(thinking=answer.reasoning_content, signature=""))
        text = (answer.content or "") + (answer.refusal or "")
        refused = bool(answer.refusal)
        if text:
            content.append(TextBlock(text=text))
        for call in answer.tool_calls or ():
            if isinstance(call, FunctionToolCall):
                name, arguments = call.function.name, call.function.arguments
                content.append(ToolUseBlock(id=call.id, name=name, input=tool_input(name, arguments, provider)))
    return Message(
        id=new_message_id(),
        role="assistant",
        content=content,
        model=completion.model or model,
        stop_reason=stop_reason(choice.finish_reason if choice else None, refused=refused),
        # Chat does not say which stop sequence ended an answer, nor whether one did.
        stop_sequence=None,
        usage=usage(completion.usage or None),
    )


def tool_input(name: str, arguments: str, provider: str) -> dict[str, Any]:
    """A tool call's arguments as Anthropic's `input` object."""
    if not arguments.strip():
        return {}
    try:
        value = _decoder.decode(arguments)
    except (msgspec.DecodeError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise UpstreamProtocolError(
            f"The model called the tool {name!r} with arguments that are not a JSON object, which an Anthropic "
            "tool_use block cannot carry.",
            provider=provider,
        )
    return value


def stop_reason(finish_reason: str | None, *, refused: bool = False) -> StopReason:
    """Anthropic's stop reason for chat's finish reason (`end_turn` for an answer that simply ended)."""
    if refused:
        return "refusal"
    return _STOP_REASONS.get(finish_reason or "stop", "end_turn")


def usage(reported: ChatUsage | None) -> Usage:
    """Chat usage in Anthropic's terms: cached prompt tokens are `cache_read_input_tokens`, the rest
    `input_tokens` (Anthropic counts them apart; chat's `prompt_tokens` is their sum)."""
    prompt, completion, cached = _counts(reported)
    return Usage(
        input_tokens=prompt - cached,
        output_tokens=completion,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=cached,
    )


def delta_usage(reported: ChatUsage | None) -> MessageDeltaUsage:
    """The same counts, as a stream's `message_delta` carries them."""
    prompt, completion, cached = _counts(reported)
    return MessageDeltaUsage(
        output_tokens=completion,
        input_tokens=prompt - cached,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=cached,
    )


def _counts(reported: ChatUsage | None) -> tuple[int, int, int]:
    """Prompt, completion and cached tokens; counters an upstream left out or sent as null count as 0."""
    if reported is None:
        return 0, 0, 0
    details = reported.prompt_tokens_details or None
    prompt = reported.prompt_tokens or 0
    cached = min(prompt, (details.cached_tokens or 0) if details else 0)
    return prompt, reported.completion_tokens or 0, cached
