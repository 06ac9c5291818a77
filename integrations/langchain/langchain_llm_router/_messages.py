"""Conversion of LangChain messages into OpenAI chat-completions messages.

Owns the request side of the message mapping: roles (including ``developer``),
``name``, assistant tool calls (valid and invalid) with ``content: null`` when
an assistant turn only calls tools, tool results, multimodal content parts
(LangChain standard blocks, OpenAI parts, Anthropic-style image blocks) and
DeepSeek's ``reasoning_content``, which must be sent back on assistant turns.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_openai_data_block,
    is_data_content_block,
)

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage, InvalidToolCall, ToolCall

__all__ = ["DEVELOPER_ROLE_KEY", "message_to_dict"]

DEVELOPER_ROLE_KEY = "__openai_role__"
"""``SystemMessage.additional_kwargs`` key that, set to ``"developer"``, sends
the message with the ``developer`` role; the convention langchain-openai uses."""

# Content blocks that describe model output or provider bookkeeping rather than
# input. They reach us when an AIMessage from any provider is replayed, and are
# carried elsewhere on the wire (tool calls, reasoning_content) or not at all.
_NON_INPUT_BLOCK_TYPES = frozenset(
    {
        "tool_use",
        "tool_call",
        "tool_call_chunk",
        "invalid_tool_call",
        "server_tool_call",
        "server_tool_call_chunk",
        "server_tool_result",
        "thinking",
        "redacted_thinking",
        "reasoning",
        "reasoning_content",
        "function_call",
    }
)


def message_to_dict(message: BaseMessage) -> dict[str, Any]:
    """Convert one LangChain message into an OpenAI chat message.

    Raises:
        TypeError: For message types chat completions cannot express.
    """
    if isinstance(message, AIMessage):
        return _assistant_to_dict(message)
    if isinstance(message, ToolMessage):
        # Chat completions has no field for ``status="error"``; a failed tool's
        # content already says so, and inventing a field would be rejected by
        # strict upstreams.
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _input_content(message.content),
        }
    if isinstance(message, HumanMessage):
        role = "user"
    elif isinstance(message, SystemMessage):
        role = message.additional_kwargs.get(DEVELOPER_ROLE_KEY, "system")
    elif isinstance(message, ChatMessage):
        role = message.role
    else:
        msg = f"Cannot send a {type(message).__name__} to a chat completions API."
        raise TypeError(msg)
    result: dict[str, Any] = {"role": role, "content": _input_content(message.content)}
    if message.name:
        result["name"] = message.name
    return result


def _assistant_to_dict(message: AIMessage) -> dict[str, Any]:
    result: dict[str, Any] = {"role": "assistant"}
    text_parts = _assistant_text_parts(message.content)
    tool_calls = [_tool_call_to_dict(call) for call in message.tool_calls] + [
        _invalid_tool_call_to_dict(call) for call in message.invalid_tool_calls
    ]
    if tool_calls:
        result["tool_calls"] = tool_calls
    if not text_parts:
        # OpenAI's own convention: a turn that only calls tools has null content.
        result["content"] = None if tool_calls else ""
    elif len(text_parts) == 1:
        result["content"] = text_parts[0]["text"]
    else:
        result["content"] = text_parts
    if message.name:
        result["name"] = message.name
    if (reasoning := _reasoning_of(message)) is not None:
        result["reasoning_content"] = reasoning
    return result


def _assistant_text_parts(
    content: str | list[str | dict[str, Any]],
) -> list[dict[str, Any]]:
    """The text of an assistant turn as OpenAI text parts; other blocks dropped."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            text = block
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            text = block["text"]
        else:
            continue
        if text:
            parts.append({"type": "text", "text": text})
    return parts


def _reasoning_of(message: AIMessage) -> str | None:
    """DeepSeek-style reasoning to send back with an assistant turn.

    Taken from ``additional_kwargs`` (where responses put it), else from
    standard ``reasoning`` blocks (where ``output_version="v1"`` puts it).
    """
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str):
        return reasoning
    if isinstance(message.content, list):
        pieces = [
            block["reasoning"]
            for block in message.content
            if isinstance(block, dict)
            and block.get("type") == "reasoning"
            and isinstance(block.get("reasoning"), str)
        ]
        if pieces:
            return "".join(pieces)
    return None


def _tool_call_to_dict(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call["id"],
        "type": "function",
        "function": {
            "name": call["name"],
            # ensure_ascii=False keeps non-Latin arguments readable to the model.
            "arguments": json.dumps(call["args"], ensure_ascii=False),
        },
    }


def _invalid_tool_call_to_dict(call: InvalidToolCall) -> dict[str, Any]:
    # Replay the model's malformed arguments verbatim: the conversation must
    # show what it actually produced, so that it can correct itself.
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {
            "name": call.get("name") or "",
            "arguments": call.get("args") or "",
        },
    }


def _input_content(
    content: str | list[str | dict[str, Any]],
) -> str | list[dict[str, Any]]:
    """User, system and tool content as a string or a list of OpenAI parts."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
        elif (part := _input_part(block)) is not None:
            parts.append(part)
    return parts


def _input_part(block: dict[str, Any]) -> dict[str, Any] | None:
    block_type = block.get("type")
    if block_type == "text":
        # Standard text blocks may carry ids, indexes and annotations that an
        # OpenAI text part does not allow.
        return {"type": "text", "text": block.get("text", "")}
    if block_type == "image_url":
        image_url = block.get("image_url")
        if isinstance(image_url, str):
            return {"type": "image_url", "image_url": {"url": image_url}}
        return {"type": "image_url", "image_url": image_url}
    if is_data_content_block(block):
        return convert_to_openai_data_block(block)
    if block_type == "image" and isinstance(source := block.get("source"), dict):
        return _anthropic_image_part(source)
    if block_type in _NON_INPUT_BLOCK_TYPES:
        return None
    # Already an OpenAI part (input_audio, file, ...): pass it through untouched.
    return block


def _anthropic_image_part(source: dict[str, Any]) -> dict[str, Any] | None:
    if source.get("type") == "base64" and source.get("data"):
        url = f"data:{source.get('media_type', 'image/png')};base64,{source['data']}"
    elif source.get("type") == "url" and source.get("url"):
        url = source["url"]
    else:
        return None
    return {"type": "image_url", "image_url": {"url": url}}
