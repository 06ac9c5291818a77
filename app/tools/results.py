"""What a tool call gives back: one result shape for every kind of tool.

`ToolOutput` is a tool's own answer as its kind read it; `ToolResult` is that answer as the registry hands
it out, to a client of `POST /v1/tools/{name}/invoke` (as `{"object": "tool.invocation", ...}`) and to
anything running tools in a model loop. A tool that answered with an error (an HTTP status of 300 or more,
MCP's `isError`) is a result with `is_error` set, not an exception: the model should see it. Exceptions are
kept for failures on the router's side of the call (`providers.errors.ToolError` and its kin).
"""

from __future__ import annotations

import base64
import codecs
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

__all__ = [
    "Content",
    "ImageContent",
    "TextContent",
    "ToolOutput",
    "ToolResult",
    "http_output",
    "text_of",
]

_encoder = msgspec.json.Encoder()
_json = msgspec.json.Decoder()


class TextContent(msgspec.Struct, tag="text", tag_field="type"):
    text: str


class ImageContent(msgspec.Struct, tag="image", tag_field="type"):
    data: str
    """Base64."""
    mime_type: str


Content = TextContent | ImageContent


@dataclass(slots=True)
class ToolOutput:
    """A tool's answer, as read by its kind."""

    content: list[Content]
    structured: Any = None
    is_error: bool = False
    truncated: bool = False
    size: int = 0
    """Bytes of the answer read (after the cap)."""
    retryable: bool = False
    """The answer is a 429 or 5xx: another attempt may do better."""
    retry_after: float | None = None


class ToolResult(msgspec.Struct, kw_only=True):
    """One invocation's result, as `POST /v1/tools/{name}/invoke` answers it."""

    id: str
    tool: str
    is_error: bool
    content: list[Content]
    structured_content: Any = None
    truncated: bool = False
    duration_ms: int = 0
    object: Literal["tool.invocation"] = "tool.invocation"

    def encode(self) -> bytes:
        return _encoder.encode(self)


def text_of(content: list[Content]) -> str:
    """The text of a result, for a model or a log: text items joined, images named."""
    return "\n".join(item.text if isinstance(item, TextContent) else f"[image {item.mime_type}]" for item in content)


def http_output(
    status: int, content_type: str, body: bytes, *, truncated: bool, retry_after: float | None = None
) -> ToolOutput:
    """An HTTP tool's answer: JSON becomes text plus `structured` (when whole), an image an image item,
    anything else text. A redirect or a status of 400 or more is the tool's own error."""
    media = content_type.partition(";")[0].strip().lower()
    # A redirect is not followed (the tool's URL is the only place the router may call), so it is no answer.
    is_error = status >= 300
    retryable = status == 429 or status >= 500
    size = len(body)
    if media.startswith("image/") and not truncated:
        image = ImageContent(data=base64.b64encode(body).decode("ascii"), mime_type=media)
        return ToolOutput([image], None, is_error, truncated, size, retryable, retry_after)
    # A cut body may end inside a character: the incremental decoder holds such a tail back.
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(body, final=not truncated)
    structured: Any = None
    if not truncated and (media == "application/json" or media.endswith("+json")) and body:
        try:
            structured = _json.decode(body)
        except msgspec.DecodeError:
            structured = None
    if 300 <= status < 400:
        text = f"HTTP {status}: the tool answered with a redirect, which the router does not follow."
    elif not text and is_error:
        text = f"HTTP {status}"
    return ToolOutput([TextContent(text)], structured, is_error, truncated, size, retryable, retry_after)
