"""Request fields for tool calling and structured output.

Owns the translation of LangChain's tool and schema vocabulary into OpenAI
request fields: ``tool_choice`` (tool names, ``"any"``/``True`` meaning
``"required"``), and ``response_format`` for the ``json_schema`` and
``json_mode`` structured-output methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.utils.function_calling import convert_to_openai_function

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ToolChoice", "json_schema_response_format", "resolve_tool_choice"]

ToolChoice = str | bool | dict[str, Any] | None
"""What `ChatLLMRouter.bind_tools` accepts as ``tool_choice``."""

_KEYWORDS = frozenset({"auto", "none", "required"})


def resolve_tool_choice(
    tool_choice: ToolChoice, tool_names: Sequence[str]
) -> str | dict[str, Any] | None:
    """The ``tool_choice`` request value for a LangChain-style choice.

    - ``None`` or ``False``: nothing is sent; the server's default applies.
    - ``True`` or ``"any"``: ``"required"``, i.e. call at least one tool.
    - ``"auto"``, ``"none"``, ``"required"``: sent as is.
    - the name of a bound tool: that tool is forced.
    - a dict: sent as is, for forms this function does not know.

    Raises:
        ValueError: If a string is neither a keyword nor a bound tool's name, so
            that a typo fails here rather than as an HTTP 400 later.
        TypeError: For any other type.
    """
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice is True or tool_choice == "any":
        return "required"
    if isinstance(tool_choice, dict):
        return tool_choice
    if isinstance(tool_choice, str):
        if tool_choice in _KEYWORDS:
            return tool_choice
        if tool_choice in tool_names:
            return {"type": "function", "function": {"name": tool_choice}}
        msg = (
            f"tool_choice {tool_choice!r} is neither 'auto', 'none', 'required', "
            f"'any' nor the name of a bound tool ({', '.join(tool_names) or 'none'})."
        )
        raise ValueError(msg)
    msg = f"tool_choice must be a str, bool, dict or None, not {type(tool_choice)}"
    raise TypeError(msg)


def json_schema_response_format(
    schema: dict[str, Any] | type, *, strict: bool | None
) -> dict[str, Any]:
    """``response_format`` asking for JSON that follows ``schema``.

    ``schema`` may be a pydantic class, a ``TypedDict``, a JSON schema or an
    OpenAI function/tool definition; its title (or name) becomes the format's
    name and its docstring (or description) the description.
    """
    function = convert_to_openai_function(schema, strict=strict)
    json_schema: dict[str, Any] = {
        "name": function["name"],
        "schema": function["parameters"],
        "strict": bool(strict),
    }
    if description := function.get("description"):
        json_schema["description"] = description
    return {"type": "json_schema", "json_schema": json_schema}
