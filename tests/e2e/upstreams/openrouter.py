"""OpenRouter's dialect: OpenAI's wire format with OpenRouter's fields, envelope and in-band failures."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from tests.e2e.upstreams.openai_wire import OpenAIWireDialect, data

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tests.e2e.upstreams.scenarios import Answer, Failure, FailureKind

__all__ = ["OpenRouterDialect"]

PROVIDER = "Amazon Bedrock"  # OpenRouter names the provider that served each answer
# OpenRouter's `metadata.error_type`; the other failures carry no metadata.
ERROR_TYPES: dict[FailureKind, str] = {
    "rate_limited": "rate_limit_exceeded",
    "server_error": "server",
    "bad_key": "authentication",
    "unavailable": "provider_unavailable",
    "context_too_long": "context_length_exceeded",
    "model_not_found": "model_not_found",
}


class OpenRouterDialect(OpenAIWireDialect):
    """`gen-` ids and a `provider` field; `reasoning` instead of `reasoning_content`; the role on every
    delta; usage in a chunk of its own whatever the client asked; `{code, message, metadata}` errors; and
    failures reported with HTTP 200, as `finish_reason: "error"` or an error chunk mid-stream."""

    name = "openrouter"
    prefix = "/openrouter/api/v1"
    env_prefix = "OPENROUTER"
    key = "sk-or-v1-e2e0secret0openrouter0key"

    usage = {"prompt_tokens": 25, "completion_tokens": 55, "total_tokens": 80, "cost": 0.00012, "is_byok": False}
    client_usage = {"prompt_tokens": 25, "completion_tokens": 55, "total_tokens": 80}
    in_band_failures = frozenset({"answer", "stream"})
    stream_comment = ": OPENROUTER PROCESSING\n\n"
    role_on_every_delta = True
    chunk_fields = {"provider": PROVIDER}
    reasoning_key = "reasoning"

    def router_env(self, base_url: str) -> dict[str, str]:
        attribution = {"OPENROUTER_APP_URL": "https://example.org/agent", "OPENROUTER_APP_TITLE": "llm-router e2e"}
        return {**super().router_env(base_url), **attribution}

    def response_id(self) -> str:
        return f"gen-{int(time.time())}-{uuid.uuid4().hex[:20]}"

    def call_id(self, n: int) -> str:
        return f"toolu_bdrk_{uuid.uuid4().hex[:24]}"

    def shape_completion(self, body: dict[str, Any], answer: Answer) -> None:
        choice = body["choices"][0]
        body["provider"] = PROVIDER
        choice["native_finish_reason"] = answer.finish
        choice["message"]["reasoning"] = answer.reasoning
        choice["message"]["refusal"] = None
        if answer.failed_in_band:
            choice["finish_reason"] = "error"
            choice["error"] = {"code": 502, "message": "Upstream provider returned an error", "metadata": {}}

    def shape_chunk(self, chunk: dict[str, Any], choice: dict[str, Any], *, finished: bool) -> None:
        choice["native_finish_reason"] = choice["finish_reason"]

    def closing(self, answer: Answer) -> Iterable[str]:
        # OpenRouter always sends usage, in its own chunk, whatever the client asked.
        return [data({**self.envelope(answer), "choices": [], "usage": self.usage})]

    def stream_error(self, answer: Answer) -> dict[str, Any]:
        return {
            **self.envelope(answer),
            "error": {
                "code": 502,
                "message": "Provider disconnected",
                "metadata": {"error_type": "provider_unavailable"},
            },
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        }

    def error(self, failure: Failure) -> dict[str, Any]:
        body: dict[str, Any] = {"code": failure.status, "message": failure.message}
        if failure.kind in ERROR_TYPES:
            body["metadata"] = {"error_type": ERROR_TYPES[failure.kind]}
        return {"error": body}

    def models(self) -> dict[str, Any]:
        return {
            "data": [
                _model("meta-llama/llama-3.3-70b-instruct:free"),
                _model("free/tool:free"),
                _model("free/rate-limited:free"),
                _model("free/notools:free", tools=False),
                _model("free/tiny:free", context=16),
                _model("paid/notools", tools=False),
            ]
        }


def _model(model_id: str, *, tools: bool = True, context: int = 131072) -> dict[str, Any]:
    parameters = ["temperature", "max_tokens"] + (["tools", "tool_choice"] if tools else [])
    return {
        "id": model_id,
        "canonical_slug": model_id.split(":")[0],
        "name": model_id,
        "created": 1733506137,
        "context_length": context,
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "pricing": {"prompt": "0", "completion": "0"},
        "supported_parameters": parameters,
    }
