"""DeepSeek's dialect: OpenAI's wire format with DeepSeek's keep-alives, `reasoning_content` and usage placement."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from tests.e2e.upstreams.openai_wire import OpenAIWireDialect

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tests.e2e.upstreams.scenarios import Answer, Failure

__all__ = ["DeepSeekDialect"]


class DeepSeekDialect(OpenAIWireDialect):
    """UUID ids and a `system_fingerprint`; blank lines before a plain answer and `: keep-alive` comments in
    streams while queued; `reasoning_content`; `""` content and an extra `index` next to tool calls; usage on
    the chunk that finishes; OpenAI-like error envelopes; `developer` messages refused (the router sends
    them as `system`); and failures reported only before streaming."""

    name = "deepseek"
    prefix = "/deepseek"
    env_prefix = "DEEPSEEK"
    key = "sk-e2e0secret0deepseek0key"

    usage = {
        "prompt_tokens": 306,
        "completion_tokens": 85,
        "total_tokens": 391,
        "prompt_tokens_details": {"cached_tokens": 256},
        "completion_tokens_details": {"reasoning_tokens": 31},
        "prompt_cache_hit_tokens": 256,
        "prompt_cache_miss_tokens": 50,
    }
    client_usage = {
        "prompt_tokens": 306,
        "completion_tokens": 85,
        "total_tokens": 391,
        "prompt_tokens_details": {"cached_tokens": 256},
        "completion_tokens_details": {"reasoning_tokens": 31},
    }
    in_band_failures = frozenset({"answer"})  # `insufficient_system_resource`; never mid-stream
    stream_comment = ": keep-alive\n\n"
    chunk_fields = {"system_fingerprint": "fp_8b330d02d0_prod0820_fp8_kvcache_20260402"}
    final_delta = {"content": "", "reasoning_content": None}
    developer_role = "system"

    def response_id(self) -> str:
        return str(uuid.uuid4())

    def call_id(self, n: int) -> str:
        return f"call_{n:02d}_{uuid.uuid4().hex[:24]}"

    def completion(self, answer: Answer) -> bytes:
        return b"\n\n\n" + super().completion(answer)  # keep-alive lines while queued

    def shape_completion(self, body: dict[str, Any], answer: Answer) -> None:
        choice = body["choices"][0]
        message = choice["message"]
        body["system_fingerprint"] = "fp_8b330d02d0_prod0820_fp8_kvcache"
        if answer.calls:
            message["content"] = ""  # DeepSeek sends "" next to tool calls
            for index, call in enumerate(message["tool_calls"]):
                call["index"] = index  # and an extra index inside each call
        if answer.reasoning:
            message["reasoning_content"] = answer.reasoning
        if answer.failed_in_band:
            choice["finish_reason"] = "insufficient_system_resource"

    def shape_chunk(self, chunk: dict[str, Any], choice: dict[str, Any], *, finished: bool) -> None:
        chunk["usage"] = self.usage if finished else None

    def after_chunk(self, position: int) -> Iterable[str]:
        return [": keep-alive\n\n"] if position == 1 else []

    def stream_error(self, answer: Answer) -> dict[str, Any]:
        return {
            "error": {"message": "Server overloaded", "type": "server_error", "param": None, "code": "server_error"}
        }

    def error(self, failure: Failure) -> dict[str, Any]:
        return {
            "error": {
                "message": failure.message,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        }

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "deepseek-chat", "object": "model", "owned_by": "deepseek"}]}
