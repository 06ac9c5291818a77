"""Conversion of chat-completions responses into LangChain results.

Owns the response side of the mapping: a ``chat.completion`` into a
``ChatResult``, ``chat.completion.chunk`` events into ``ChatGenerationChunk``s
(tool-call deltas as indexed ``tool_call_chunks``, ``reasoning_content`` deltas,
one final chunk carrying usage and response metadata), tool-call arguments that
are not a JSON object into ``invalid_tool_calls``, and the ``usage`` object into
``UsageMetadata`` with cached-input and reasoning-token details.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    InvalidToolCall,
    ToolCall,
    ToolCallChunk,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_llm_router._error_mapping import error_from_event
from langchain_llm_router.errors import LLMRouterAPIError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from langchain_core.messages.ai import (
        InputTokenDetails,
        OutputTokenDetails,
        UsageMetadata,
    )

__all__ = [
    "MODEL_PROVIDER",
    "StreamAssembler",
    "completion_to_result",
    "parse_stream_event",
    "parse_tool_calls",
    "usage_to_metadata",
]

MODEL_PROVIDER = "llm-router"
"""``response_metadata["model_provider"]`` of every message this package returns."""

_DONE = "[DONE]"

# Assistant fields kept in ``additional_kwargs``. ``reasoning_content`` is
# DeepSeek's chain of thought, which must be sent back on the next turn.
_EXTRA_ASSISTANT_FIELDS = ("reasoning_content", "refusal")


def completion_to_result(completion: Mapping[str, Any]) -> ChatResult:
    """Convert a ``chat.completion`` object into a ``ChatResult``.

    Raises:
        LLMRouterError: If the body is an error envelope or has no choices.
    """
    if "error" in completion:
        raise error_from_event(completion)
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices:
        msg = "the router's response has no choices"
        raise LLMRouterAPIError(msg, body=dict(completion))
    usage = completion.get("usage")
    usage_metadata = usage_to_metadata(usage) if isinstance(usage, dict) else None
    generations = []
    for choice in choices:
        message = _assistant_message(
            choice.get("message") or {},
            id=completion.get("id"),
            usage_metadata=usage_metadata,
            response_metadata=_response_metadata(
                completion, finish_reason=choice.get("finish_reason")
            ),
        )
        generation_info = {"finish_reason": choice.get("finish_reason")}
        if choice.get("logprobs"):
            generation_info["logprobs"] = choice["logprobs"]
        generations.append(
            ChatGeneration(message=message, generation_info=generation_info)
        )
    llm_output: dict[str, Any] = {"model_name": completion.get("model")}
    if usage is not None:
        llm_output["token_usage"] = usage
    if fingerprint := completion.get("system_fingerprint"):
        llm_output["system_fingerprint"] = fingerprint
    return ChatResult(generations=generations, llm_output=llm_output)


def parse_stream_event(data: str) -> dict[str, Any] | None:
    """Decode one SSE ``data`` payload; ``None`` marks the end of the stream.

    Raises:
        LLMRouterError: If the event reports an error (a top-level ``error``
            key) or is not a JSON object.
    """
    if data == _DONE:
        return None
    try:
        event = json.loads(data)
    except ValueError as exc:
        msg = f"the router sent a malformed stream event: {data[:200]!r}"
        raise LLMRouterAPIError(msg) from exc
    if not isinstance(event, dict):
        msg = f"the router sent a stream event that is not an object: {data[:200]!r}"
        raise LLMRouterAPIError(msg)
    if "error" in event:
        raise error_from_event(event)
    return event


class StreamAssembler:
    """Turns ``chat.completion.chunk`` events into generation chunks.

    Content, reasoning and tool-call deltas are emitted as they arrive. The
    once-per-response facts (finish reason, model name, usage) are held back
    and emitted by `final_chunk` on a single chunk marked ``chunk_position=
    "last"``: LangChain merges chunks by concatenating strings and summing
    token counts, so anything repeated across chunks would be corrupted.
    """

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._finish_reason: str | None = None
        self._system_fingerprint: str | None = None
        self._usage: UsageMetadata | None = None

    def add(self, event: Mapping[str, Any]) -> ChatGenerationChunk | None:
        """Consume one event; return the chunk to emit for it, if any."""
        self._id = event.get("id") or self._id
        self._model = event.get("model") or self._model
        self._system_fingerprint = (
            event.get("system_fingerprint") or self._system_fingerprint
        )
        if isinstance(usage := event.get("usage"), dict):
            # Keep only the latest report: some upstreams repeat cumulative
            # usage on several chunks, and the total must be counted once.
            self._usage = usage_to_metadata(usage)
        choices = event.get("choices") or []
        if not choices:
            return None
        choice = choices[0]
        self._finish_reason = choice.get("finish_reason") or self._finish_reason
        delta = choice.get("delta") or {}
        content = delta.get("content") or ""
        additional_kwargs = {
            field: delta[field]
            for field in _EXTRA_ASSISTANT_FIELDS
            if isinstance(delta.get(field), str) and delta[field]
        }
        chunks = _tool_call_chunks(delta.get("tool_calls"))
        logprobs = choice.get("logprobs")
        if not (content or additional_kwargs or chunks or logprobs):
            return None
        response_metadata: dict[str, Any] = {"model_provider": MODEL_PROVIDER}
        if logprobs:
            response_metadata["logprobs"] = logprobs
        message = AIMessageChunk(
            content=content,
            additional_kwargs=additional_kwargs,
            tool_call_chunks=chunks,
            response_metadata=response_metadata,
            id=self._id,
        )
        return ChatGenerationChunk(message=message)

    def final_chunk(self) -> ChatGenerationChunk:
        """The closing chunk, carrying usage and response metadata."""
        response_metadata: dict[str, Any] = {"model_provider": MODEL_PROVIDER}
        if self._finish_reason is not None:
            response_metadata["finish_reason"] = self._finish_reason
        if self._model is not None:
            response_metadata["model_name"] = self._model
        if self._system_fingerprint is not None:
            response_metadata["system_fingerprint"] = self._system_fingerprint
        message = AIMessageChunk(
            content="",
            usage_metadata=self._usage,
            response_metadata=response_metadata,
            id=self._id,
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)


def parse_tool_calls(
    raw_calls: list[Mapping[str, Any]],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Split raw tool calls into parsed ones and ones with unusable arguments.

    Arguments that are not JSON, or JSON other than an object, make the call
    invalid rather than raising: the caller can send the error back to the
    model, which can then correct itself.
    """
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for raw in raw_calls:
        function = raw.get("function") or {}
        name = function.get("name")
        arguments = function.get("arguments")
        call_id = raw.get("id")
        if not arguments:
            # Tools without parameters come back with "" from some upstreams.
            calls.append(tool_call(name=name or "", args={}, id=call_id))
            continue
        try:
            # strict=False tolerates raw control characters inside strings,
            # which models do emit and which carry no ambiguity.
            args = json.loads(arguments, strict=False)
        except (TypeError, ValueError) as exc:
            error = f"arguments are not valid JSON: {exc}"
        else:
            if isinstance(args, dict):
                calls.append(tool_call(name=name or "", args=args, id=call_id))
                continue
            error = f"arguments must be a JSON object, got {type(args).__name__}"
        invalid.append(
            invalid_tool_call(
                name=name,
                args=arguments if isinstance(arguments, str) else json.dumps(arguments),
                id=call_id,
                error=error,
            )
        )
    return calls, invalid


def usage_to_metadata(usage: Mapping[str, Any]) -> UsageMetadata:
    """Map an OpenAI ``usage`` object to LangChain's ``UsageMetadata``."""
    input_tokens = _int(usage.get("prompt_tokens")) or 0
    output_tokens = _int(usage.get("completion_tokens")) or 0
    total = _int(usage.get("total_tokens"))
    metadata: UsageMetadata = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": total if total is not None else input_tokens + output_tokens,
    }
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    input_details: InputTokenDetails = {}
    cache_read = _int(prompt_details.get("cached_tokens"))
    if cache_read is None:
        # DeepSeek reports cache hits under its own top-level name.
        cache_read = _int(usage.get("prompt_cache_hit_tokens"))
    if cache_read is not None:
        input_details["cache_read"] = cache_read
    if (audio_in := _int(prompt_details.get("audio_tokens"))) is not None:
        input_details["audio"] = audio_in
    output_details: OutputTokenDetails = {}
    if (reasoning := _int(completion_details.get("reasoning_tokens"))) is not None:
        output_details["reasoning"] = reasoning
    if (audio_out := _int(completion_details.get("audio_tokens"))) is not None:
        output_details["audio"] = audio_out
    if input_details:
        metadata["input_token_details"] = input_details
    if output_details:
        metadata["output_token_details"] = output_details
    return metadata


def _assistant_message(
    message: Mapping[str, Any],
    *,
    id: str | None,
    usage_metadata: UsageMetadata | None,
    response_metadata: dict[str, Any],
) -> AIMessage:
    calls, invalid = parse_tool_calls(message.get("tool_calls") or [])
    additional_kwargs = {
        field: message[field]
        for field in _EXTRA_ASSISTANT_FIELDS
        if message.get(field) is not None
    }
    return AIMessage(
        # OpenAI sends null content on turns that only call tools.
        content=message.get("content") or "",
        additional_kwargs=additional_kwargs,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        name=message.get("name"),
        id=id,
        usage_metadata=usage_metadata,
        response_metadata=response_metadata,
    )


def _response_metadata(
    completion: Mapping[str, Any], *, finish_reason: str | None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "model_provider": MODEL_PROVIDER,
        "model_name": completion.get("model"),
        "finish_reason": finish_reason,
    }
    if fingerprint := completion.get("system_fingerprint"):
        metadata["system_fingerprint"] = fingerprint
    return metadata


def _tool_call_chunks(raw: Any) -> list[ToolCallChunk]:
    if not isinstance(raw, list):
        return []
    chunks = []
    for position, delta in enumerate(raw):
        function = delta.get("function") or {}
        chunks.append(
            tool_call_chunk(
                name=function.get("name"),
                args=function.get("arguments"),
                id=delta.get("id"),
                # ``index`` is what ties the deltas of one call together; fall
                # back to the position for upstreams that omit it.
                index=delta.get("index", position),
            )
        )
    return chunks


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
