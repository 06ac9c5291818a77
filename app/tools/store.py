"""How a toolset registered through the admin API is kept (`app.records` stores it, in SQLite or Redis).

A stored toolset is its definition plus the tools found for it when it was registered or last refreshed,
so a restart (or another instance) has every tool at once, without asking each server again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from app.tools.kinds.base import ToolSpec

if TYPE_CHECKING:
    from app.tools.definitions import ToolsetDefinition

__all__ = ["COLLECTION", "StoredToolset", "decode_stored", "encode_stored"]

COLLECTION = "toolsets"
"""The toolsets' collection in the record store: the SQLite table, the Redis key."""


class StoredToolset(msgspec.Struct, kw_only=True):
    definition: msgspec.Raw
    """The definition's JSON, as validated at registration."""
    tools: list[ToolSpec]
    updated_at: float


_decoder = msgspec.json.Decoder(StoredToolset)
_encoder = msgspec.json.Encoder()


def encode_stored(definition: ToolsetDefinition, tools: list[ToolSpec], updated_at: float) -> bytes:
    return _encoder.encode(
        StoredToolset(definition=msgspec.Raw(_encoder.encode(definition)), tools=tools, updated_at=updated_at)
    )


def decode_stored(data: bytes) -> StoredToolset:
    return _decoder.decode(data)
