"""A server defined only in the router's configuration file: OpenAI's wire format, as an older or stricter
OpenAI-compatible server speaks it (llama.cpp, vLLM, Ollama and the like have each refused some of these).

It refuses, with a 400, what such servers refuse: a `developer` message, an assistant message that calls tools
with a `null` content or carries another provider's `reasoning_details` (as Groq refuses properties it does not
know), `parallel_tool_calls`, `stream_options` and `max_completion_tokens`; and it sends usage
on the chunk that finishes a stream, whether asked or not. The router reaches it only through a
`[providers.local]` table with `type = "openai-compatible"` and every quirk switch on but `no_reasoning_fields`
(it takes `reasoning_content` back, as vLLM's reasoning parsers do), its key in a variable
named by `api_key_env` and its timeout in the `LOCAL_*` variables every provider reads.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tests.e2e.upstreams.openai_wire import OpenAIWireDialect

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tests.e2e.upstreams.scenarios import Answer, Asked, Failure

__all__ = ["QUIRKS", "ConfiguredDialect"]

# The quirk switches, each with what this server refuses without it.
QUIRKS = {
    "developer_as_system": "Unknown role: developer",
    "empty_content_with_tool_calls": "content': expected a string, got null",
    "no_parallel_tool_calls": "Unrecognized request argument supplied: parallel_tool_calls",
    "no_stream_options": "Unrecognized request argument supplied: stream_options",
    "max_tokens_only": "Unrecognized request argument supplied: max_completion_tokens",
    "no_reasoning_fields": "property 'reasoning_details' is unsupported",
}
FIELDS_REFUSED = {"parallel_tool_calls", "stream_options", "max_completion_tokens"}


class ConfiguredDialect(OpenAIWireDialect):
    """An OpenAI-compatible server the router knows only from its configuration file."""

    name = "local"
    prefix = "/local/v1"
    env_prefix = "LOCAL"
    key = "sk-local-e2e0secret0configured0key"
    forwards_as_sent = False  # its quirk switches change what it receives

    usage = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
    client_usage = usage
    in_band_failures = frozenset()
    stream_comment = ": keep-alive\n\n"
    developer_role = "system"

    @property
    def key_env(self) -> str:
        return "E2E_LOCAL_SERVER_KEY"

    def router_env(self, base_url: str) -> dict[str, str]:
        # The key in the variable `api_key_env` names; the timeout, as for every provider, in `<NAME>_TIMEOUT`.
        return {self.key_env: self.key, "LOCAL_TIMEOUT": "2"}

    def router_config(self, base_url: str) -> str:
        return provider_table(
            self.name, base_url, self.key_env, [quirk for quirk in QUIRKS if quirk != "no_reasoning_fields"]
        )

    def read(self, body: dict[str, Any], headers: Mapping[str, str]) -> Asked:
        asked = super().read(body, headers)
        refused = self.refusal(body, headers)
        return asked if refused is None else _with(asked, refused)

    def refusal(self, body: dict[str, Any], headers: Mapping[str, str]) -> str | None:
        """Why this server refuses the request (None: it takes it)."""
        if headers.get("x-tenant") != "e2e":
            return "Missing tenant (X-Tenant)"
        for field in sorted(FIELDS_REFUSED & set(body)):
            return f"Unrecognized request argument supplied: {field}"
        for position, message in enumerate(body.get("messages") or []):
            if message.get("role") == "developer":
                return QUIRKS["developer_as_system"]
            if message.get("role") == "assistant" and message.get("tool_calls") and message.get("content") is None:
                return f"Invalid 'messages[{position}].content': expected a string, got null"
            if message.get("role") == "assistant" and "reasoning_details" in message:
                return f"'messages.{position}' : property 'reasoning_details' is unsupported"
        return None

    def response_id(self) -> str:
        return f"chatcmpl-{uuid.uuid4().hex[:24]}"

    def call_id(self, n: int) -> str:
        return f"call_{uuid.uuid4().hex[:24]}"

    def shape_completion(self, body: dict[str, Any], answer: Answer) -> None:
        if answer.reasoning:
            body["choices"][0]["message"]["reasoning_content"] = answer.reasoning  # vLLM's reasoning parsers

    def shape_chunk(self, chunk: dict[str, Any], choice: dict[str, Any], *, finished: bool) -> None:
        if finished:
            chunk["usage"] = self.usage  # unasked: it knows no stream_options

    def stream_error(self, answer: Answer) -> dict[str, Any]:
        return {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}}

    def error(self, failure: Failure) -> dict[str, Any]:
        code = "context_length_exceeded" if failure.kind == "context_too_long" else None
        return {"error": {"message": failure.message, "type": "invalid_request_error", "param": None, "code": code}}

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": "llama3.1:8b", "object": "model", "created": 1721172741, "owned_by": "library"}],
        }


def provider_table(name: str, base_url: str, key_env: str, quirks: list[str]) -> str:
    """TOML for a `[providers.<name>]` table pointing at this server, with `quirks` switched on."""
    switches = ", ".join(f"{quirk} = true" for quirk in quirks)
    return (
        f"[providers.{name}]\n"
        'type = "openai-compatible"\n'
        f'base_url = "{base_url}"\n'
        f'api_key_env = "{key_env}"\n'
        'headers = { "X-Tenant" = "e2e" }\n'
        f"quirks = {{ {switches} }}\n\n"
    )


def _with(asked: Asked, refused: str) -> Asked:
    return replace(asked, rejected=refused)
