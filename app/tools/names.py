"""Tool names as OpenAI accepts them (`^[A-Za-z0-9_-]{1,64}$`), made from names MCP servers and OpenAPI
documents give their tools.

A registry tool is called `<toolset>_<local name>`. The local name is the tool's own name when that is
valid; otherwise every other character becomes `_` (`get.user` -> `get_user`). A name too long for the room
the toolset's prefix leaves is cut, and a name that would collide with one already taken gets `_` plus six
hex digits of the SHA-256 of its original. Names valid as they are always keep theirs, and the rest are
settled in sorted order, so the same names always give the same result whatever order a server lists them
in. The registry keeps the original beside each tool, so a call goes out under the name the server knows.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["MAX_NAME", "TOOLSET_NAME", "is_tool_name", "local_names", "public_name"]

MAX_NAME = 64
TOOLSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
"""A toolset's name: short enough to leave room for its tools' names after `<toolset>_`."""

_VALID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_INVALID_CHARACTER = re.compile(r"[^A-Za-z0-9_-]")
_SUFFIX = 7  # "_" and six hex digits


def is_tool_name(name: str) -> bool:
    return _VALID.match(name) is not None


def public_name(toolset: str, local: str) -> str:
    return f"{toolset}_{local}"


def local_names(toolset: str, originals: Iterable[str]) -> dict[str, str]:
    """Each original name's local name within `toolset`, distinct and valid once prefixed."""
    room = MAX_NAME - len(toolset) - 1
    names: dict[str, str] = {}
    taken: set[str] = set()
    # Names valid as they are claim theirs first, so a sanitised neighbour can never take one.
    ordered = sorted(set(originals), key=lambda name: (not _fits(name, room), name))
    for original in ordered:
        local = original if _fits(original, room) else _sanitised(original, room)
        if local in taken:
            local = _with_digest(local, original, room)
        while local in taken:  # the same six digits for two names: practically never, but stay distinct
            local = _with_digest(local, local, room)
        taken.add(local)
        names[original] = local
    return names


def _fits(name: str, room: int) -> bool:
    return 0 < len(name) <= room and _VALID.match(name) is not None


def _sanitised(original: str, room: int) -> str:
    name = _INVALID_CHARACTER.sub("_", original) or "tool"
    # A cut name gets its digest at once: two long names that share a beginning must not share a name.
    return name if len(name) <= room else _with_digest(name, original, room)


def _with_digest(name: str, original: str, room: int) -> str:
    digest = hashlib.sha256(original.encode()).hexdigest()[: _SUFFIX - 1]
    return f"{name[: room - _SUFFIX]}_{digest}"
