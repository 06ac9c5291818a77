"""Server-sent events as the router sends them: OpenAI's `data: <json>` frames and `data: [DONE]`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from providers.schema import ChatCompletionChunk

__all__ = ["DONE", "encode_chunk", "encode_data"]

DONE = b"data: [DONE]\n\n"

_encoder = msgspec.json.Encoder()


def encode_chunk(chunk: ChatCompletionChunk) -> bytes:
    return encode_data(_encoder.encode(chunk))


def encode_data(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"
