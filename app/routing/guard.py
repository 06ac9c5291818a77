"""The tool-call guard: a model's tool calls must name an offered tool, with arguments valid for it.

Models, free ones most of all, sometimes call tools with arguments that are not JSON or do not match the
tool's schema. Handed to an agent, such a call breaks its step; caught here, it is one failed attempt the
router can retry or fall back from. Schemas come from the client, so they are compiled and run by
`app.schemas`, in bounded time whatever they contain; `function_schemas` lists them for the check that
refuses an unusable one when the request arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from app.schemas import SchemaInvalid
from providers.errors import InvalidToolCall
from providers.schema import UNSET, FunctionTool, FunctionToolCall

if TYPE_CHECKING:
    from collections.abc import Iterator

    from app.schemas import SchemaCompiler
    from providers.schema import ChatCompletion, ChatCompletionRequest

__all__ = ["InvalidToolCall", "check_tool_calls", "function_schemas"]  # the error lives in providers.errors


def function_schemas(params: ChatCompletionRequest) -> Iterator[tuple[str, str, object]]:
    """Each function tool's parameters schema, with its `param` and the function's name."""
    for index, tool in enumerate(params.tools or ()):
        if isinstance(tool, FunctionTool):
            yield f"tools[{index}].function.parameters", tool.function.name, tool.function.parameters


def check_tool_calls(
    params: ChatCompletionRequest,
    completion: ChatCompletion,
    provider: str,
    schemas: SchemaCompiler,
    *,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Raise `InvalidToolCall` for the first tool call in `completion` that the request's tools reject; calls
    to the tools in `skip` are someone else's to check."""
    offered = {tool.function.name: tool.function for tool in params.tools or () if isinstance(tool, FunctionTool)}
    for choice in completion.choices:
        for call in choice.message.tool_calls or ():
            if not isinstance(call, FunctionToolCall):
                continue
            name = call.function.name
            if name in skip:
                continue
            function = offered.get(name)
            if function is None:
                raise InvalidToolCall(f"The model called a tool that was not offered: {name!r}.", provider=provider)
            try:
                arguments = msgspec.json.decode(call.function.arguments or "{}")
            except (msgspec.DecodeError, RecursionError):  # msgspec stops at Python's recursion limit
                raise InvalidToolCall(
                    f"The model called {name!r} with arguments that are not JSON: {call.function.arguments[:200]!r}.",
                    provider=provider,
                ) from None
            if function.parameters is UNSET:
                continue
            try:
                schema = schemas.compile(function.parameters)
            except SchemaInvalid:
                continue  # the schema is at fault, not the model (requests with one are refused on arrival)
            problem = schema.first_error(arguments)
            if problem is not None:
                raise InvalidToolCall(
                    f"The model called {name!r} with arguments its schema rejects at {problem.path or '(root)'}: "
                    f"{problem.message}",
                    provider=provider,
                )
