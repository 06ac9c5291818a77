"""Reading the router's raw responses, so tests can check the exact bytes a client receives."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["RawStream", "post_json", "post_stream"]


@dataclass
class RawStream:
    status: int
    headers: httpx.Headers
    chunks: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    lines: list[str] = field(default_factory=list)


def post_json(base_url: str, body: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return httpx.post(f"{base_url}/chat/completions", json=body, timeout=timeout)


def post_stream(base_url: str, body: dict[str, Any], timeout: float = 30) -> RawStream:
    """POST a streaming request and collect every SSE event the router sends, in order."""
    with httpx.stream("POST", f"{base_url}/chat/completions", json=body, timeout=timeout) as response:
        raw = RawStream(response.status_code, response.headers)
        if response.status_code != 200:
            response.read()
            raw.errors.append(response.json())
            return raw
        for line in response.iter_lines():
            raw.lines.append(line)
            if not line.startswith("data: "):
                assert line == "", f"unexpected SSE line from the router: {line!r}"
                continue
            assert not raw.done, "the router sent data after [DONE]"
            payload = line.removeprefix("data: ")
            if payload == "[DONE]":
                raw.done = True
                continue
            event = json.loads(payload)
            (raw.errors if "error" in event else raw.chunks).append(event)
    return raw
