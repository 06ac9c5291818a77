"""A scripted stand-in for the router's HTTP API, for unit tests.

`FakeRouter` is an httpx ``MockTransport`` handler: it answers each request
with the next scripted response (or raises the next scripted transport error)
and records what was sent, so tests can assert on the exact request body. The
module-level builders produce OpenAI-shaped bodies and SSE streams.
"""

from __future__ import annotations

import json
from collections import deque
from typing import TYPE_CHECKING, Any

import httpx

from langchain_llm_router import ChatLLMRouter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = [
    "BASE_URL",
    "USAGE",
    "BrokenStream",
    "FakeRouter",
    "chunk",
    "completion",
    "error_response",
    "json_response",
    "sse_body",
    "sse_response",
    "tool_call",
]

BASE_URL = "http://router.test/v1"
MODEL = "test/model"
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


class FakeRouter:
    """Answers requests from a queue of scripted responses and records them."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._script: deque[httpx.Response | httpx.TransportError] = deque()

    def queue(self, *responses: httpx.Response | httpx.TransportError) -> None:
        """Add responses (or transport errors to raise) to the script."""
        self._script.extend(responses)

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The ``MockTransport`` handler."""
        self.requests.append(request)
        if not self._script:
            msg = f"unexpected request: {request.method} {request.url}"
            raise AssertionError(msg)
        item = self._script.popleft()
        if isinstance(item, httpx.TransportError):
            item.request = request
            raise item
        return item

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """Decoded JSON bodies of the requests received so far."""
        return [json.loads(request.content) for request in self.requests]

    @property
    def last_body(self) -> dict[str, Any]:
        """Decoded JSON body of the latest request."""
        return self.bodies[-1]

    def model(self, **kwargs: Any) -> ChatLLMRouter:
        """A `ChatLLMRouter` whose sync and async clients both talk to this fake."""
        transport = httpx.MockTransport(self.handler)
        params: dict[str, Any] = {
            "model": MODEL,
            "base_url": BASE_URL,
            "http_client": httpx.Client(transport=transport),
            "http_async_client": httpx.AsyncClient(transport=transport),
            **kwargs,
        }
        return ChatLLMRouter(**params)


class BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that yields some bytes, then fails like a dropped socket."""

    def __init__(self, prefix: bytes) -> None:
        self._prefix = prefix

    def __iter__(self) -> Iterator[bytes]:
        yield self._prefix
        msg = "connection reset by peer"
        raise httpx.ReadError(msg)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._prefix
        msg = "connection reset by peer"
        raise httpx.ReadError(msg)


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One entry of an assistant message's ``tool_calls``."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def completion(
    content: str | None = "Hello there",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    reasoning_content: str | None = None,
    finish_reason: str = "stop",
    usage: dict[str, Any] | None = USAGE,
    model: str = MODEL,
    choices: int = 1,
) -> dict[str, Any]:
    """A ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    if reasoning_content is not None:
        message["reasoning_content"] = reasoning_content
    body: dict[str, Any] = {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"index": i, "message": message, "finish_reason": finish_reason}
            for i in range(choices)
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def chunk(
    delta: dict[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = MODEL,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; without ``delta`` it is the usage-only chunk."""
    body: dict[str, Any] = {
        "id": "chatcmpl-456",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def sse_body(*events: dict[str, Any] | str, done: bool = True) -> bytes:
    """An SSE body: dicts become ``data:`` events, strings are raw lines."""
    lines: list[str] = []
    for event in events:
        if isinstance(event, str):
            lines.append(event)
        else:
            lines.extend([f"data: {json.dumps(event)}", ""])
    if done:
        lines.extend(["data: [DONE]", ""])
    return ("\n".join(lines) + "\n").encode()


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A JSON response."""
    return httpx.Response(status, json=body, headers=headers)


def sse_response(*events: dict[str, Any] | str, done: bool = True) -> httpx.Response:
    """A ``text/event-stream`` response carrying ``events``."""
    return httpx.Response(
        200,
        content=sse_body(*events, done=done),
        headers={"content-type": "text/event-stream"},
    )


def error_response(
    status: int,
    message: str = "something went wrong",
    *,
    error_type: str = "invalid_request_error",
    code: str | int | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """An error response with the OpenAI envelope."""
    envelope = {"message": message, "type": error_type, "param": param, "code": code}
    return json_response({"error": envelope}, status=status, headers=headers)
