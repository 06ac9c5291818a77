"""Request payload, canned upstream responses and response validation.

The canned responses follow the exact shape of OpenAI's chat completions API
for a tool call, both as a single JSON document and as a server-sent event
stream with ``stream_options.include_usage`` set.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

__all__ = [
    "MODEL_ALIAS",
    "TARGET_MODEL",
    "TOOLS",
    "UPSTREAM_MODEL",
    "canned_completion",
    "canned_stream",
    "chat_request",
    "fidelity",
    "model_listing",
    "parse_sse",
    "request_bytes",
    "stream_chunks",
    "validate_completion",
    "validate_stream",
]

MODEL_ALIAS = "bench-chat"
"""Model name sent by the load generator: an alias, as users configure the router (and LiteLLM)."""

TARGET_MODEL = "openrouter/bench/model"
"""The alias's one target (the router strips ``openrouter/`` and asks the upstream for ``bench/model``)."""

UPSTREAM_MODEL = "bench-model"
"""Model name the canned upstream reports in its responses."""

TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = '{"city": "Paris", "unit": "celsius", "days": 3}'
CALL_ID = "call_8xkqSFkK2bBm0rVwYbJqDpa1"
COMPLETION_ID = "chatcmpl-BenchA1b2C3d4E5f6G7h8I9j0K"
CREATED = 1_735_689_600
SYSTEM_FINGERPRINT = "fp_bench0001"

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather and a short forecast for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_local_time",
            "description": "Local time in an IANA time zone.",
            "parameters": {
                "type": "object",
                "properties": {
                    "timezone": {"type": "string", "description": "e.g. Europe/Paris"},
                },
                "required": ["timezone"],
                "additionalProperties": False,
            },
        },
    },
]

_HISTORY_CALL_ID = "call_Qm3nT7vLx0a9ZbC2dE4fG6hJ"


def chat_request(*, stream: bool, model: str = MODEL_ALIAS) -> dict[str, Any]:
    """The benchmark request: two tools and a history containing a tool round trip."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise travel assistant. Use the tools when useful."},
            {"role": "user", "content": "What time is it in Paris right now, and what's the weather there?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": _HISTORY_CALL_ID,
                        "type": "function",
                        "function": {"name": "get_local_time", "arguments": '{"timezone": "Europe/Paris"}'},
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": _HISTORY_CALL_ID,
                "content": '{"timezone": "Europe/Paris", "local_time": "2025-01-01T09:30:00+01:00"}',
            },
        ],
        "tools": TOOLS,
        "tool_choice": "auto",
        "temperature": 0,
        "max_tokens": 256,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def request_bytes(*, stream: bool, model: str = MODEL_ALIAS) -> bytes:
    return json.dumps(chat_request(stream=stream, model=model), separators=(",", ":")).encode()


_USAGE: dict[str, Any] = {
    "prompt_tokens": 231,
    "completion_tokens": 24,
    "total_tokens": 255,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def canned_completion(tool_name: str = TOOL_NAME) -> bytes:
    """A non-streaming chat completion whose only output is one call of ``tool_name``."""
    doc = {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": UPSTREAM_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": CALL_ID,
                            "type": "function",
                            "function": {"name": tool_name, "arguments": TOOL_ARGUMENTS},
                        }
                    ],
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": _USAGE,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def model_listing() -> bytes:
    """The upstream's ``GET /models``, as OpenRouter lists a model: the router reads what it supports
    (``supported_parameters``) before sending a request with tools to an alias's target."""
    entry = {
        "id": TARGET_MODEL.removeprefix("openrouter/"),
        "canonical_slug": TARGET_MODEL.removeprefix("openrouter/"),
        "name": "Bench: canned model",
        "created": CREATED,
        "description": "The benchmark's canned upstream.",
        "context_length": 131_072,
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {"prompt": "0", "completion": "0", "request": "0", "image": "0"},
        "top_provider": {"context_length": 131_072, "max_completion_tokens": 8192, "is_moderated": False},
        "per_request_limits": None,
        "supported_parameters": [
            "max_tokens",
            "temperature",
            "tool_choice",
            "tools",
            "response_format",
            "structured_outputs",
            "stop",
        ],
    }
    return json.dumps({"data": [entry]}, separators=(",", ":")).encode()


def _argument_fragments() -> list[str]:
    """Split the arguments the way a model streams them: seven small pieces."""
    cuts = [0, 2, 8, 11, 19, 27, 38, len(TOOL_ARGUMENTS)]
    return [TOOL_ARGUMENTS[a:b] for a, b in itertools.pairwise(cuts)]


def stream_chunks() -> list[dict[str, Any]]:
    """The ten chunks of the canned stream (``[DONE]`` not included)."""

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": UPSTREAM_MODEL,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
            "usage": usage,
        }

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    fragments = _argument_fragments()
    chunks = [
        chunk(
            choice(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": CALL_ID,
                            "type": "function",
                            "function": {"name": TOOL_NAME, "arguments": ""},
                        }
                    ],
                    "refusal": None,
                }
            )
        )
    ]
    chunks += [chunk(choice({"tool_calls": [{"index": 0, "function": {"arguments": f}}]})) for f in fragments]
    chunks.append(chunk(choice({}, "tool_calls")))
    chunks.append(chunk([], _USAGE))
    assert len(chunks) == 10
    return chunks


def canned_stream() -> bytes:
    events = [f"data: {json.dumps(c, separators=(',', ':'))}\n\n" for c in stream_chunks()]
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


# --------------------------------------------------------------------------
# Validation of what a system under test returns.
# --------------------------------------------------------------------------


def _media_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def validate_completion(status: int, headers: dict[str, str], body: bytes, tool_name: str = TOOL_NAME) -> list[str]:
    """Problems with a non-streaming response calling ``tool_name``; an empty list means it is correct."""
    problems: list[str] = []
    if status != 200:
        return [f"status {status}, expected 200"]
    if _media_type(headers) != "application/json":
        problems.append(f"content-type {headers.get('content-type')!r}, expected application/json")
    try:
        doc = json.loads(body)
        choice = doc["choices"][0]
        message = choice["message"]
        call = message["tool_calls"][0]
    except (ValueError, LookupError, TypeError) as exc:
        return [*problems, f"not a chat completion with a tool call ({exc.__class__.__name__}: {exc})"]
    if doc.get("object") != "chat.completion":
        problems.append(f"object {doc.get('object')!r}")
    if message.get("role") != "assistant" or message.get("content") is not None:
        problems.append(f"message role/content {message.get('role')!r}/{message.get('content')!r}")
    if call.get("id") != CALL_ID or call.get("type") != "function":
        problems.append(f"tool call id/type {call.get('id')!r}/{call.get('type')!r}")
    function = call.get("function") or {}
    if function.get("name") != tool_name:
        problems.append(f"tool name {function.get('name')!r}")
    if function.get("arguments") != TOOL_ARGUMENTS:
        problems.append(f"tool arguments {function.get('arguments')!r}")
    if choice.get("finish_reason") != "tool_calls":
        problems.append(f"finish_reason {choice.get('finish_reason')!r}")
    usage = doc.get("usage") or {}
    if usage.get("total_tokens") != _USAGE["total_tokens"]:
        problems.append(f"usage {usage!r}")
    return problems


def parse_sse(body: bytes) -> list[str]:
    """The ``data:`` payloads of an event stream, one per event."""
    events: list[str] = []
    text = body.decode("utf-8", errors="replace").replace("\r\n", "\n")
    for block in text.split("\n\n"):
        data = [line[5:].removeprefix(" ") for line in block.split("\n") if line.startswith("data:")]
        if data:
            events.append("\n".join(data))
    return events


def validate_stream(status: int, headers: dict[str, str], body: bytes) -> list[str]:
    """Problems with a streaming response; an empty list means it is correct."""
    if status != 200:
        return [f"status {status}, expected 200"]
    problems: list[str] = []
    if _media_type(headers) != "text/event-stream":
        problems.append(f"content-type {headers.get('content-type')!r}, expected text/event-stream")
    events = parse_sse(body)
    if not events or events[-1] != "[DONE]":
        problems.append("stream does not end with data: [DONE]")
    name = ""
    arguments = ""
    call_ids: set[str] = set()
    finish_reasons: list[str] = []
    usage: dict[str, Any] | None = None
    for raw in events:
        if raw == "[DONE]":
            continue
        try:
            chunk = json.loads(raw)
        except ValueError:
            problems.append(f"event is not JSON: {raw[:80]!r}")
            continue
        if chunk.get("object") != "chat.completion.chunk":
            problems.append(f"chunk object {chunk.get('object')!r}")
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("finish_reason"):
                finish_reasons.append(choice["finish_reason"])
            for call in (choice.get("delta") or {}).get("tool_calls") or []:
                if call.get("id"):
                    call_ids.add(call["id"])
                function = call.get("function") or {}
                name += function.get("name") or ""
                arguments += function.get("arguments") or ""
    if call_ids != {CALL_ID}:
        problems.append(f"tool call ids {sorted(call_ids)!r}")
    if name != TOOL_NAME:
        problems.append(f"tool name {name!r}")
    if arguments != TOOL_ARGUMENTS:
        problems.append(f"reassembled arguments {arguments!r}")
    if finish_reasons != ["tool_calls"]:
        problems.append(f"finish reasons {finish_reasons!r}")
    if not usage or usage.get("total_tokens") != _USAGE["total_tokens"]:
        problems.append(f"usage chunk {usage!r}")
    return problems


# --------------------------------------------------------------------------
# Fidelity: how far a response is from what the upstream sent.
# --------------------------------------------------------------------------


def json_differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Paths at which two JSON values differ, in document order."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[str] = []
        for key in expected.keys() | actual.keys():
            sub = f"{path}.{key}"
            if key not in actual:
                out.append(f"{sub} missing")
            elif key not in expected:
                out.append(f"{sub} added")
            else:
                out.extend(json_differences(expected[key], actual[key], sub))
        return sorted(out)
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path} has {len(actual)} items, upstream {len(expected)}"]
        pairs = enumerate(zip(expected, actual, strict=True))
        return [d for i, (e, a) in pairs for d in json_differences(e, a, f"{path}[{i}]")]
    if expected != actual or type(expected) is not type(actual):
        return [f"{path} changed"]
    return []


def fidelity(stream: bool, body: bytes) -> list[str]:
    """Differences between a response body and the canned upstream body, as JSON."""
    try:
        if not stream:
            return json_differences(json.loads(canned_completion()), json.loads(body))
        events = parse_sse(body)
        if events and events[-1] == "[DONE]":
            events = events[:-1]
        else:
            return ["stream does not end with [DONE]"]
        return json_differences(stream_chunks(), [json.loads(e) for e in events])
    except ValueError as exc:
        return [f"not JSON: {exc}"]
