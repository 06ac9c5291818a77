"""The tool-call guard: a model's tool calls must name an offered tool, with arguments valid for it.

Models, free ones most of all, sometimes call tools with arguments that are not JSON or do not match the
tool's schema. Handed to an agent, such a call breaks its step; caught here, it is one failed attempt the
router can retry or fall back from. Schemas are compiled once and cached by their JSON text.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import jsonschema
import msgspec
from jsonschema.exceptions import best_match

from providers.errors import UpstreamError
from providers.schema import UNSET, FunctionTool, FunctionToolCall

if TYPE_CHECKING:
    from providers.schema import ChatCompletion, ChatCompletionRequest

__all__ = ["InvalidToolCall", "check_tool_calls"]

_encoder = msgspec.json.Encoder(order="deterministic")


class InvalidToolCall(UpstreamError):
    """A model called a tool that was not offered, or with arguments that are not valid for it."""

    status = 502
    default_code = "invalid_tool_call"


def check_tool_calls(params: ChatCompletionRequest, completion: ChatCompletion, provider: str) -> None:
    """Raise `InvalidToolCall` for the first tool call in `completion` that the request's tools reject."""
    offered = {tool.function.name: tool.function for tool in params.tools or () if isinstance(tool, FunctionTool)}
    for choice in completion.choices:
        for call in choice.message.tool_calls or ():
            if not isinstance(call, FunctionToolCall):
                continue
            name = call.function.name
            function = offered.get(name)
            if function is None:
                raise InvalidToolCall(f"The model called a tool that was not offered: {name!r}.", provider=provider)
            try:
                arguments = msgspec.json.decode(call.function.arguments or "{}")
            except msgspec.DecodeError:
                raise InvalidToolCall(
                    f"The model called {name!r} with arguments that are not JSON: {call.function.arguments[:200]!r}.",
                    provider=provider,
                ) from None
            if function.parameters is UNSET:
                continue
            validator = _validator(_encoder.encode(function.parameters))
            if validator is None:
                continue
            error = best_match(validator.iter_errors(arguments))
            if error is not None:
                where = "/".join(str(part) for part in error.absolute_path) or "(root)"
                raise InvalidToolCall(
                    f"The model called {name!r} with arguments its schema rejects at {where}: {error.message}.",
                    provider=provider,
                )


@functools.lru_cache(maxsize=1024)
def _validator(schema_json: bytes) -> Any:
    """A compiled validator for a schema, or None when the schema itself is not valid (not the model's fault)."""
    schema = msgspec.json.decode(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return None
    return cls(schema)
