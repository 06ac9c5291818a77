"""`http` toolsets: tools declared inline, each a URL (an n8n Webhook node is one).

POST, PUT and PATCH send the arguments as a JSON body; GET and DELETE as a query string, where a list is a
repeated parameter and an object is its JSON. The answer, whatever its status, is the tool's own answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from app.tools.definitions import resolve_headers
from app.tools.kinds.base import ToolSpec
from app.tools.results import http_output

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.tools.definitions import HttpTool, HttpToolset
    from app.tools.egress import EgressClient
    from app.tools.results import ToolOutput

__all__ = ["HttpBackend", "query_parameters", "retry_after_seconds", "send_http"]

_encoder = msgspec.json.Encoder()
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))


class HttpBackend:
    def __init__(self, definition: HttpToolset, egress: EgressClient, *, max_output_bytes: int) -> None:
        self.egress = egress
        self.max_output_bytes = max_output_bytes
        common = resolve_headers(definition.headers, "headers")
        self._tools: dict[str, tuple[HttpTool, dict[str, str]]] = {
            tool.name: (tool, common | resolve_headers(tool.headers, f"tools[{index}].headers"))
            for index, tool in enumerate(definition.tools)
        }

    async def discover(self) -> list[ToolSpec]:
        return [
            ToolSpec(
                name=tool.name,
                description=tool.description,
                parameters=tool.parameters,
                returns=tool.returns,
                version=tool.version,
            )
            for tool, _ in self._tools.values()
        ]

    async def call(
        self, spec: ToolSpec, arguments: dict[str, Any], *, time_limit: float, headers: Mapping[str, str] | None = None
    ) -> ToolOutput:
        tool, tool_headers = self._tools[spec.name]
        return await send_http(
            self.egress,
            tool.method,
            tool.url,
            arguments,
            headers=tool_headers | dict(headers or {}),
            time_limit=time_limit,
            max_bytes=self.max_output_bytes,
        )

    async def aclose(self) -> None:
        return None


async def send_http(
    egress: EgressClient,
    method: str,
    url: str,
    arguments: dict[str, Any] | None,
    *,
    headers: dict[str, str],
    time_limit: float,
    max_bytes: int,
    query: dict[str, Any] | None = None,
) -> ToolOutput:
    """One HTTP call: `arguments` as the JSON body (or, for GET and DELETE, the query string)."""
    params = dict(query or {})
    content: bytes | None = None
    if method in _BODY_METHODS and arguments is not None:
        content = _encoder.encode(arguments)
        headers = {"content-type": "application/json"} | headers
    elif arguments:
        params.update(arguments)
    answer = await egress.request(
        method,
        url,
        headers=headers,
        params=query_parameters(params) or None,
        content=content,
        time_limit=time_limit,
        max_bytes=max_bytes,
    )
    return http_output(
        answer.status,
        answer.headers.get("content-type", ""),
        answer.body,
        truncated=answer.truncated,
        retry_after=retry_after_seconds(answer.headers.get("retry-after")),
    )


def query_parameters(arguments: Mapping[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    """Arguments as query parameters: scalars as text (booleans as JSON does), lists repeated, objects as JSON."""
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in arguments.items():
        for item in value if isinstance(value, list) else (value,):
            if item is None:
                continue
            if isinstance(item, bool):
                pairs.append((name, "true" if item else "false"))
            elif isinstance(item, str | int | float):
                pairs.append((name, str(item)))
            else:
                pairs.append((name, _encoder.encode(item).decode()))
    return pairs


def retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
