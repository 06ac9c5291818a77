"""Helpers the unit tests share: scripted upstream responses, SSE parsing, and assertions on what clients see."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

from app.server import create_app
from app.settings import Settings
from providers.anthropic import AnthropicProvider
from providers.deepseek import DeepSeekProvider
from providers.mock import MockProvider
from providers.openrouter import OpenRouterProvider
from tests.support.openapi import assert_valid

from .wire_examples import ANTHROPIC_KEY, DEEPSEEK_KEY, OPENROUTER_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    import respx
    from litestar import Litestar

OPENROUTER_BASE = "https://openrouter.test/api/v1"
DEEPSEEK_BASE = "https://deepseek.test"
ANTHROPIC_BASE = "https://anthropic.test"
OPENROUTER_CHAT = f"{OPENROUTER_BASE}/chat/completions"
DEEPSEEK_CHAT = f"{DEEPSEEK_BASE}/chat/completions"
ANTHROPIC_MESSAGES = f"{ANTHROPIC_BASE}/v1/messages"

PROVIDER_CLASSES = {
    "openrouter": OpenRouterProvider,
    "deepseek": DeepSeekProvider,
    "anthropic": AnthropicProvider,
    "mock": MockProvider,
}
OPENROUTER_TABLE = {"api_key": OPENROUTER_KEY, "base_url": OPENROUTER_BASE}
DEEPSEEK_TABLE = {"api_key": DEEPSEEK_KEY, "base_url": DEEPSEEK_BASE}
ANTHROPIC_TABLE = {"api_key": ANTHROPIC_KEY, "base_url": ANTHROPIC_BASE}

# One attempt per target: these tests are about what a single upstream answer becomes, and must not wait out
# retry back-offs or Retry-After headers.
SINGLE_ATTEMPT = {"max_attempts": 1}


def build_app(http: httpx.AsyncBaseTransport, settings: Settings | None = None, **values: Any) -> Litestar:
    """The app over `http`, from `settings` or these `Settings` values (both test providers configured)."""
    if settings is None:
        values.setdefault("providers", {"openrouter": OPENROUTER_TABLE, "deepseek": DEEPSEEK_TABLE})
        values.setdefault("routing", SINGLE_ATTEMPT)
        settings = Settings(**values)
    return create_app(settings, transport=http, provider_classes=PROVIDER_CLASSES)


USER_HI = [{"role": "user", "content": "Hi"}]

# Exact OpenAI key sets (CreateChatCompletionStreamResponse / CreateChatCompletionResponse) plus the two
# extensions the router sends, `reasoning_content` and `reasoning_details`.
CHUNK_KEYS = {"id", "object", "created", "model", "choices", "system_fingerprint", "service_tier", "usage"}
CHUNK_CHOICE_KEYS = {"index", "delta", "finish_reason", "logprobs"}
DELTA_KEYS = {"role", "content", "refusal", "tool_calls", "reasoning_content", "reasoning_details"}
TOOL_CALL_DELTA_KEYS = {"index", "id", "type", "function"}
USAGE_KEYS = {
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
}
ERROR_KEYS = {"message", "type", "param", "code"}


def sse(*payloads: bytes | str, done: bool = True) -> bytes:
    """An SSE body of one `data:` frame per payload, ending with `[DONE]` unless told otherwise."""
    frames = [b"data: " + (p if isinstance(p, bytes) else p.encode()) + b"\n\n" for p in payloads]
    if done:
        frames.append(b"data: [DONE]\n\n")
    return b"".join(frames)


def chunk(delta: dict[str, Any] | None = None, finish_reason: str | None = None, **top: Any) -> str:
    """One upstream chunk as JSON text, with OpenAI's top-level fields unless `top` overrides them."""
    body: dict[str, Any] = {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1727346178,
        "model": "upstream-model",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}],
    }
    body.update(top)
    return json.dumps(body)


async def _pieces(body: bytes, sizes: Iterable[int]) -> AsyncIterator[bytes]:
    sizes = list(sizes)
    position, turn = 0, 0
    while position < len(body):
        size = sizes[turn % len(sizes)]
        yield body[position : position + size]
        position += size
        turn += 1


def streamed(
    body: bytes, *, sizes: Iterable[int] = (1 << 20,), status: int = 200, content_type: str = "text/event-stream"
) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect answering each call with `body` as a stream, read in pieces of `sizes` bytes.

    Each call gets a fresh response, streamed as a network response is (a response built from bytes is
    already read, and httpx refuses to stream it again).
    """
    sizes = tuple(sizes)

    def respond(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=_pieces(body, sizes), headers={"content-type": content_type})

    return respond


def json_response(body: bytes, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": "application/json", **headers})


def parse_sse(text: str) -> list[Any]:
    """The events the client got, decoded, asserting each is exactly one `data:` line (no comments, no names)."""
    assert text.endswith("\n\n"), f"stream does not end with a blank line: {text[-80:]!r}"
    events: list[Any] = []
    for frame in text[:-2].split("\n\n"):
        assert frame.startswith("data: "), f"not a data frame: {frame!r}"
        assert "\n" not in frame, f"frame spans several lines: {frame!r}"
        data = frame[len("data: ") :]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def stream_chunks(text: str) -> list[dict[str, Any]]:
    """The chunks of a stream that ended cleanly: everything before the final `[DONE]`, which must be last."""
    events = parse_sse(text)
    assert events[-1] == "[DONE]", f"stream did not end with [DONE]: {events[-1]!r}"
    assert "[DONE]" not in events[:-1]
    return events[:-1]


def assert_exact_chunk(chunk_: dict[str, Any]) -> None:
    """A chunk has only OpenAI's fields (and `reasoning_content` in deltas)."""
    assert chunk_["object"] == "chat.completion.chunk"
    assert set(chunk_) <= CHUNK_KEYS, set(chunk_) - CHUNK_KEYS
    assert {"id", "object", "created", "model", "choices"} <= set(chunk_)
    for choice in chunk_["choices"]:
        assert set(choice) <= CHUNK_CHOICE_KEYS, set(choice) - CHUNK_CHOICE_KEYS
        assert {"index", "delta", "finish_reason"} <= set(choice)
        assert set(choice["delta"]) <= DELTA_KEYS, set(choice["delta"]) - DELTA_KEYS
        for call in choice["delta"].get("tool_calls", ()):
            assert set(call) <= TOOL_CALL_DELTA_KEYS
            assert isinstance(call["index"], int)
    if "usage" in chunk_:
        assert chunk_["choices"] == []
        assert set(chunk_["usage"]) <= USAGE_KEYS, set(chunk_["usage"]) - USAGE_KEYS


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def finish_reasons(chunks: list[dict[str, Any]]) -> list[str]:
    return [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch["finish_reason"] is not None]


def roles(chunks: list[dict[str, Any]]) -> list[str]:
    return [d["role"] for d in deltas(chunks) if "role" in d]


def text_of(chunks: list[dict[str, Any]], field: str = "content") -> str:
    return "".join(d.get(field) or "" for d in deltas(chunks))


def tool_call_deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for d in deltas(chunks) for call in d.get("tool_calls", ())]


def assembled_calls(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls as an OpenAI SDK accumulates them: by index, concatenating argument fragments."""
    calls: dict[int, dict[str, Any]] = {}
    for delta in tool_call_deltas(chunks):
        call = calls.setdefault(delta["index"], {"id": None, "type": None, "name": None, "arguments": ""})
        for key in ("id", "type"):
            if key in delta:
                assert call[key] is None, f"{key} repeated for call {delta['index']}: {delta}"
                call[key] = delta[key]
        function = delta.get("function", {})
        if "name" in function:
            assert call["name"] is None, f"name repeated for call {delta['index']}: {delta}"
            call["name"] = function["name"]
        call["arguments"] += function.get("arguments") or ""
    assert sorted(calls) == list(range(len(calls))), f"indexes are not 0..n-1: {sorted(calls)}"
    return [calls[i] for i in sorted(calls)]


def assert_error(
    response: httpx.Response, status: int, *, code: str | None = None, type_: str | None = None
) -> dict[str, Any]:
    """An error response in OpenAI's envelope, all four keys present; returns the `error` object."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    assert_valid(body, "ErrorResponse")
    error: dict[str, Any] = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["type"], str)
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)
    if code is not None:
        assert error["code"] == code, error
    if type_ is not None:
        assert error["type"] == type_, error
    return error


def assert_stream_error(text: str) -> dict[str, Any]:
    """A stream that ended with an error event and no `[DONE]`; returns the error object."""
    events = parse_sse(text)
    assert "[DONE]" not in events, "a failed stream must not end with [DONE]"
    last = events[-1]
    assert set(last) == {"error"}, last
    assert_valid(last, "ErrorResponse")
    assert set(last["error"]) == ERROR_KEYS
    for event in events[:-1]:
        assert "error" not in event
    error: dict[str, Any] = last["error"]
    return error


def sent_json(route: respx.Route, call: int = -1) -> dict[str, Any]:
    """The JSON body the upstream received on one call of a route."""
    parsed: dict[str, Any] = json.loads(route.calls[call].request.content)
    return parsed


def assert_valid_stream(chunks: list[dict[str, Any]]) -> None:
    """Every chunk exact (only OpenAI's fields) and valid against OpenAI's CreateChatCompletionStreamResponse."""
    for chunk_ in chunks:
        assert_exact_chunk(chunk_)
        assert_valid(chunk_, "CreateChatCompletionStreamResponse")


COMPLETION_KEYS = {"id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier"}
CHOICE_KEYS = {"index", "message", "finish_reason", "logprobs"}
MESSAGE_KEYS = {
    "role",
    "content",
    "refusal",
    "tool_calls",
    "annotations",
    "audio",
    "function_call",
    "reasoning_content",
    "reasoning_details",
}


def completion_of(response: httpx.Response) -> dict[str, Any]:
    """A 200 chat completion, exact (only OpenAI's fields) and valid against CreateChatCompletionResponse."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["object"] == "chat.completion"
    assert set(body) <= COMPLETION_KEYS, set(body) - COMPLETION_KEYS
    for choice in body["choices"]:
        assert set(choice) == CHOICE_KEYS, choice
        message = choice["message"]
        assert set(message) <= MESSAGE_KEYS, set(message) - MESSAGE_KEYS
        assert {"role", "content", "refusal"} <= set(message)
        for call in message.get("tool_calls", ()):
            assert set(call) == {"id", "type", "function"}, call
            assert set(call["function"]) == {"name", "arguments"}, call
    if "usage" in body:
        assert set(body["usage"]) <= USAGE_KEYS, set(body["usage"]) - USAGE_KEYS
    assert_valid(body, "CreateChatCompletionResponse")
    return body


def stream_of(response: httpx.Response) -> list[dict[str, Any]]:
    """The chunks of a 200 SSE answer that ended with `[DONE]`, each exact and schema-valid."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = stream_chunks(response.text)
    assert_valid_stream(chunks)
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1, f"chunk ids differ: {ids}"
    return chunks
