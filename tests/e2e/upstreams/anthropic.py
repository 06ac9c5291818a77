"""Anthropic's dialect: the Messages API, with content blocks, named stream events and signed thinking.

It plays Anthropic as strictly as its API is, so the conformance suite also checks what the router sends:
a request the real API refuses gets the real API's 400 (`refusal`): a field Anthropic does not know, no
`max_tokens`, an empty text block, a `tool_use` without its `tool_result` in the next turn, tool results
after other blocks, a temperature over 1, and, with thinking on, a tool-use turn that does not start with
its thinking block, a thinking block whose signature is not the one this upstream gave it, thinking with a
forced tool or a temperature, or a budget out of bounds. Its thinking blocks are signed with a digest of
their text, so a changed or invented block is refused like Anthropic refuses one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from tests.e2e.upstreams.dialect import Dialect
from tests.e2e.upstreams.scenarios import (
    ArgumentsPiece,
    Asked,
    CallOpened,
    Finished,
    Opened,
    ReasoningPiece,
    TextPiece,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tests.e2e.upstreams.scenarios import Answer, Failure, FailureKind, StreamPlan

__all__ = ["AnthropicDialect", "signature"]

# The fields of `POST /v1/messages` (anthropic-sdk-python MessageCreateParams); Anthropic refuses any other.
FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "tools",
        "tool_choice",
        "stream",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "thinking",
        "output_config",
        "service_tier",
        "cache_control",
        "container",
        "inference_geo",
    }
)
ERROR_TYPES: dict[FailureKind, str] = {
    "rate_limited": "rate_limit_error",
    "overloaded": "overloaded_error",
    "server_error": "api_error",
    "bad_key": "authentication_error",
    "invalid_request": "invalid_request_error",
    "unavailable": "overloaded_error",
    "no_tool_endpoints": "not_found_error",
    "context_too_long": "invalid_request_error",
    "model_not_found": "not_found_error",
}
THINKING_FIRST = (
    "messages.{turn}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` "
    "is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of "
    "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid "
    "this requirement, disable `thinking`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)


def signature(thinking: str) -> str:
    """The signature this upstream gives a thinking block: a digest of its text, so only that text matches it."""
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode()


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data}, ensure_ascii=False)}\n\n"


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or [] if isinstance(block, dict)]


def _text(blocks: list[dict[str, Any]]) -> str:
    return "".join(str(block.get("text", "")) for block in blocks if block.get("type") == "text")


class AnthropicDialect(Dialect):
    """`msg_` and `toolu_` ids, content blocks, `event:`-named stream events, a `ping` after the opening,
    cache counters in usage, signed thinking, `{"type": "error", ...}` envelopes and 529 when overloaded."""

    name = "anthropic"
    prefix = "/anthropic"
    chat_path = "/v1/messages"
    models_path = "/v1/models"
    env_prefix = "ANTHROPIC"
    key = "sk-ant-api03-e2e0secret0anthropic0key"

    usage = {
        "input_tokens": 120,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 200,
        "output_tokens": 65,
    }
    client_usage = {
        "prompt_tokens": 350,
        "completion_tokens": 65,
        "total_tokens": 415,
        "prompt_tokens_details": {"cached_tokens": 200},
    }
    in_band_failures = frozenset({"stream"})  # an `error` event after a 200; never in a whole answer

    # ------------------------------------------------------------------------------------------- reading

    def read(self, body: dict[str, Any], headers: Mapping[str, str]) -> Asked:
        messages: list[dict[str, Any]] = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        asked_by_user = [_blocks(m) for m in messages if m.get("role") == "user" and _text(_blocks(m))]
        last = _blocks(messages[-1]) if messages and messages[-1].get("role") == "user" else []
        results = [block for block in last if block.get("type") == "tool_result"]
        thinking = [
            [block.get("thinking", "") for block in _blocks(m) if block.get("type") == "thinking"]
            for m in messages
            if m.get("role") == "assistant"
        ]
        return Asked(
            model=str(body.get("model")),
            marker=_text(asked_by_user[-1]) if asked_by_user else "",
            tools=tuple(str(tool.get("name")) for tool in body.get("tools") or []),
            tool_result=_result(results[-1]) if results else None,
            reasoning="".join(thinking[-1]) if thinking and thinking[-1] else None,
            stream=bool(body.get("stream")),
            key=headers.get("x-api-key", ""),
            rejected=self.refusal(body, headers),
        )

    def refusal(self, body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
        """Why Anthropic would refuse this request, in its words; None when it would take it."""
        if "anthropic-version" not in headers:
            return "anthropic-version: header is required"
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            return f"{unknown[0]}: Extra inputs are not permitted"
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return "max_tokens: Field required"
        temperature = body.get("temperature")
        if isinstance(temperature, int | float) and temperature > 1:
            return "temperature: Input should be less than or equal to 1"
        for tool in body.get("tools") or []:
            if (tool.get("input_schema") or {}).get("type") != "object":
                return "tools.0.custom.input_schema.type: Field required"
        messages = body.get("messages") or []
        return self._turns(messages) or self._thinking(body, messages, max_tokens)

    def _turns(self, messages: list[dict[str, Any]]) -> str | None:
        for turn, message in enumerate(messages):
            if message.get("role") not in ("user", "assistant"):
                return f"messages.{turn}.role: Input should be 'user' or 'assistant'"
            blocks = _blocks(message)
            if not blocks:
                return (
                    f"messages.{turn}: all messages must have non-empty content except for the optional final "
                    "assistant message"
                )
            if any(block.get("type") == "text" and not block.get("text") for block in blocks):
                return "messages: text content blocks must be non-empty"
            kinds = [block.get("type") for block in blocks]
            others = [position for position, kind in enumerate(kinds) if kind != "tool_result"]
            if others and "tool_result" in kinds[others[0] :]:
                return f"messages.{turn}: tool_result blocks must come first in a user message"
            calls = [block.get("id") for block in blocks if block.get("type") == "tool_use"]
            if calls and turn + 1 < len(messages):
                answered = {block.get("tool_use_id") for block in _blocks(messages[turn + 1])}
                missing = [call for call in calls if call not in answered]
                if missing:
                    return (
                        f"messages.{turn + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                        f"after: {', '.join(map(str, missing))}. Each `tool_use` block must have a corresponding "
                        "`tool_result` block in the next message."
                    )
            for position, block in enumerate(blocks):
                if block.get("type") == "thinking" and block.get("signature") != signature(block.get("thinking", "")):
                    return f"messages.{turn}.content.{position}: Invalid `signature` in `thinking` block"
        return None

    def _thinking(self, body: dict[str, Any], messages: list[dict[str, Any]], max_tokens: int) -> str | None:
        thinking = body.get("thinking") or {}
        if thinking.get("type") not in ("enabled", "adaptive"):
            return None
        if thinking.get("type") == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or budget < 1024:
                return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            if budget >= max_tokens:
                return "`max_tokens` must be greater than `thinking.budget_tokens`"
        if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
            return "Thinking may not be enabled when tool_choice forces tool use."
        if "temperature" in body and body["temperature"] != 1:
            return "`temperature` may only be set to 1 when thinking is enabled."
        for turn in range(len(messages) - 1, -1, -1):
            if messages[turn].get("role") != "assistant":
                continue
            blocks = _blocks(messages[turn])
            called = any(block.get("type") == "tool_use" for block in blocks)
            if called and blocks[0].get("type") not in ("thinking", "redacted_thinking"):
                return THINKING_FIRST.format(turn=turn, found=blocks[0].get("type"))
            break
        return None

    # ----------------------------------------------------------------------------------------- rendering

    def response_id(self) -> str:
        return f"msg_01{uuid.uuid4().hex[:22]}"

    def call_id(self, n: int) -> str:
        return f"toolu_01{uuid.uuid4().hex[:22]}"

    def completion(self, answer: Answer) -> bytes:
        content: list[dict[str, Any]] = []
        if answer.reasoning:
            content.append({"type": "thinking", "thinking": answer.reasoning, "signature": signature(answer.reasoning)})
        if not answer.calls:
            content.append({"type": "text", "text": answer.text})
        content += [
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}
            for call in answer.calls
        ]
        body = {
            "id": answer.id,
            "type": "message",
            "role": "assistant",
            "model": answer.scenario,
            "content": content,
            "stop_reason": "tool_use" if answer.calls else "end_turn",
            "stop_sequence": None,
            "usage": self.usage,
        }
        return json.dumps(body).encode()

    def stream(self, answer: Answer, plan: StreamPlan) -> Iterator[str]:
        opening = {
            "input_tokens": 120,
            "cache_creation_input_tokens": 30,
            "cache_read_input_tokens": 200,
            "output_tokens": 1,
        }
        message = {"id": answer.id, "type": "message", "role": "assistant", "model": answer.scenario, "content": []}
        yield _event(
            "message_start", {"message": {**message, "stop_reason": None, "stop_sequence": None, "usage": opening}}
        )
        block, kind, thought = -1, "", ""

        def close() -> Iterator[str]:
            if kind == "thinking":
                yield _event(
                    "content_block_delta",
                    {"index": block, "delta": {"type": "signature_delta", "signature": signature(thought)}},
                )
            if kind:
                yield _event("content_block_stop", {"index": block})

        for event in plan.events:
            match event:
                case Opened():
                    yield _event("ping", {})
                case ReasoningPiece(text):
                    if kind != "thinking":
                        yield from close()
                        block, kind, thought = block + 1, "thinking", ""
                        yield _event(
                            "content_block_start",
                            {"index": block, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
                        )
                    thought += text
                    yield _event(
                        "content_block_delta", {"index": block, "delta": {"type": "thinking_delta", "thinking": text}}
                    )
                case TextPiece(text):
                    if kind != "text":
                        yield from close()
                        block, kind = block + 1, "text"
                        yield _event(
                            "content_block_start", {"index": block, "content_block": {"type": "text", "text": ""}}
                        )
                    yield _event("content_block_delta", {"index": block, "delta": {"type": "text_delta", "text": text}})
                case CallOpened(_, call, whole):
                    yield from close()
                    block, kind = block + 1, "tool_use"
                    tool_use = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
                    yield _event("content_block_start", {"index": block, "content_block": tool_use})
                    # Anthropic opens each call's input with an empty fragment; a whole call is one fragment.
                    fragment = call.arguments if whole else ""
                    yield _event(
                        "content_block_delta",
                        {"index": block, "delta": {"type": "input_json_delta", "partial_json": fragment}},
                    )
                case ArgumentsPiece(_, _, text):
                    yield _event(
                        "content_block_delta",
                        {"index": block, "delta": {"type": "input_json_delta", "partial_json": text}},
                    )
                case Finished():
                    yield from close()
                    kind = ""
                    stop = {"stop_reason": "tool_use" if answer.calls else "end_turn", "stop_sequence": None}
                    yield _event(
                        "message_delta", {"delta": stop, "usage": {"output_tokens": self.usage["output_tokens"]}}
                    )
        if plan.end == "broken":
            yield _event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
        elif plan.end == "complete":
            yield _event("message_stop", {})

    def error(self, failure: Failure) -> dict[str, Any]:
        message = failure.message
        if failure.kind == "context_too_long":
            message = "prompt is too long: 208656 tokens > 200000 maximum"
        elif failure.kind == "model_not_found":
            message = f"model: {message.split(' ', 1)[0]}"
        return {
            "type": "error",
            "error": {"type": ERROR_TYPES.get(failure.kind, "api_error"), "message": message},
            "request_id": f"req_011{uuid.uuid4().hex[:21]}",
        }

    def models(self) -> dict[str, Any]:
        models: list[dict[str, Any]] = [
            {
                "type": "model",
                "id": "claude-sonnet-4-5-20250929",
                "display_name": "Claude Sonnet 4.5",
                "created_at": "2025-09-29T00:00:00Z",
                "max_input_tokens": 200000,
                "max_tokens": 64000,
                "capabilities": {"structured_outputs": {"supported": True}, "image_input": {"supported": True}},
            },
            {
                "type": "model",
                "id": "claude-opus-4-6",
                "display_name": "Claude Opus 4.6",
                "created_at": "2026-02-05T00:00:00Z",
            },
        ]
        return {"data": models, "has_more": False, "first_id": models[0]["id"], "last_id": models[-1]["id"]}


def _input(arguments: str) -> dict[str, Any]:
    """A call's arguments as Anthropic's `input`, which is always a JSON object."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {}  # Anthropic cannot answer with arguments that are not JSON: `bad-args` plays as no arguments
    return parsed if isinstance(parsed, dict) else {}


def _result(block: dict[str, Any]) -> str:
    content = block.get("content", "")
    return content if isinstance(content, str) else _text(content)
