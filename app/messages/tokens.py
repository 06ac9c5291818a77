"""An estimate of a Messages request's input tokens, for `POST /v1/messages/count_tokens`.

The router sends requests to many models, each with its own tokenizer, and ships none of them: it counts
about four bytes of UTF-8 text per token (system, messages, tool calls and results, thinking, tool
definitions as JSON), plus a few tokens per message for the chat format around it, and 1,600 per image
(what Anthropic counts for a full-size one). English prose comes out close; code, other scripts and small
images differ, so treat the figure as a budget, not a bill. The upstream's own count arrives with each
answer's usage.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import msgspec

from providers.anthropic_schema import (
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)

if TYPE_CHECKING:
    from providers.anthropic_schema import MessagesRequest, RequestBlock

__all__ = ["BYTES_PER_TOKEN", "IMAGE_TOKENS", "MESSAGE_TOKENS", "estimate_input_tokens"]

BYTES_PER_TOKEN = 4
MESSAGE_TOKENS = 4
IMAGE_TOKENS = 1600

_encoder = msgspec.json.Encoder()


def estimate_input_tokens(request: MessagesRequest) -> int:
    """About how many tokens the request's input is."""
    size = 0
    images = 0
    system = request.system
    if isinstance(system, str):
        size += len(system.encode())
    elif isinstance(system, list):
        size += sum(len(block.text.encode()) for block in system)
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            size += len(content.encode())
            continue
        for block in content:
            block_size, block_images = _block(block)
            size += block_size
            images += block_images
    if request.tools:
        size += len(_encoder.encode(request.tools))
    return math.ceil(size / BYTES_PER_TOKEN) + MESSAGE_TOKENS * len(request.messages) + IMAGE_TOKENS * images


def _block(block: RequestBlock) -> tuple[int, int]:
    """A block's text size in bytes, and its images."""
    if isinstance(block, TextBlock):
        return len(block.text.encode()), 0
    if isinstance(block, ImageBlock):
        return 0, 1
    if isinstance(block, ToolUseBlock):
        return len(block.name.encode()) + len(_encoder.encode(block.input)), 0
    if isinstance(block, ToolResultBlock):
        if isinstance(block.content, str):
            return len(block.content.encode()), 0
        parts = [_block(part) for part in block.content]
        return sum(size for size, _ in parts), sum(images for _, images in parts)
    if isinstance(block, ThinkingBlock):
        return len(block.thinking.encode()), 0
    return 0, 0  # redacted thinking: encrypted for Anthropic, never sent to a chat model
