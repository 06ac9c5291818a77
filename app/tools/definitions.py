"""Toolset definitions: what an operator registers, in the config file or through the admin API.

One shape for both: the admin API's body is `{"name", "kind", "description", ...}`, and a config table
`[toolsets.<name>]` holds the same fields (its name is the table's). `kind` selects the rest:

    http      `tools`: each with `name`, `url`, `method`, `parameters`, ... (an n8n Webhook URL is one)
    openapi   `openapi` (the document, or a file path or URL to fetch it from), `base_url`, `operations`
    mcp       `url` of a Streamable HTTP MCP server, `allowed_tools`

Every kind takes `headers` (values may say `${NAME}` to use an environment variable, resolved when the
toolset is built and never shown back), and defaults for its tools' `timeout`, `max_attempts` and
`rate_limit`. `parse_definition` validates all of it; a problem is an `InvalidToolDefinition` whose
`param` names the field (`tools[1].parameters`), whether it came from a request body or the config file.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from app.schemas import SchemaInvalid
from app.tools.egress import UrlRefused, check_url
from app.tools.names import MAX_NAME, TOOLSET_NAME, is_tool_name
from providers.errors import InvalidToolDefinition
from providers.pool import HEADER_NAME, HEADER_VALUE
from providers.request import invalid_request

if TYPE_CHECKING:
    from app.schemas import SchemaCompiler

__all__ = [
    "REDACTED",
    "HttpTool",
    "HttpToolset",
    "MCPToolset",
    "OpenAPIToolset",
    "ToolsetDefinition",
    "decode_definition",
    "encode_definition",
    "parse_definition",
    "redacted",
    "resolve_headers",
]

REDACTED = "[redacted]"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")

Seconds = Annotated[float, msgspec.Meta(gt=0)]
Attempts = Annotated[int, msgspec.Meta(ge=1, le=10)]
PerMinute = Annotated[int, msgspec.Meta(ge=1)]
Schema = dict[str, Any]
Name = Annotated[str, msgspec.Meta(pattern=TOOLSET_NAME.pattern)]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpTool(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One inline tool of an `http` toolset: a URL the arguments are sent to."""

    name: str
    url: str
    description: str = ""
    parameters: Schema = msgspec.field(default_factory=lambda: {"type": "object", "properties": {}})
    returns: Schema | None = None
    method: Method = "POST"
    """POST, PUT and PATCH send the arguments as a JSON body; GET and DELETE as a query string."""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timeout: Seconds | None = None
    max_attempts: Attempts | None = None
    version: str | None = None
    rate_limit: PerMinute | None = None
    """Calls per minute."""


class _Toolset(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, tag_field="kind"):
    name: Name
    description: str = ""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    """Sent with every call of every tool of the toolset."""
    timeout: Seconds | None = None
    max_attempts: Attempts | None = None
    rate_limit: PerMinute | None = None


class HttpToolset(_Toolset, tag="http"):
    tools: Annotated[list[HttpTool], msgspec.Meta(min_length=1)] = msgspec.field(default_factory=list)


class OpenAPIToolset(_Toolset, tag="openapi"):
    openapi: dict[str, Any] | str = ""
    """The OpenAPI 3.x document itself, or a file path or URL it is read from (at registration and refresh)."""
    base_url: str | None = None
    """Where calls go; the document's first `servers` entry when unset."""
    operations: list[str] | None = None
    """Only these operationIds become tools (all of them when unset)."""


class MCPToolset(_Toolset, tag="mcp"):
    url: str = ""
    allowed_tools: list[str] | None = None
    """Only these tools (by the server's names) are offered (all of them when unset)."""


ToolsetDefinition = HttpToolset | OpenAPIToolset | MCPToolset

_decoder = msgspec.json.Decoder(ToolsetDefinition)
_encoder = msgspec.json.Encoder()


def parse_definition(
    source: bytes | dict[str, Any], *, allow_private_networks: bool, schemas: SchemaCompiler
) -> ToolsetDefinition:
    """Validate a definition (a request body, or a config table with its `name`), raising
    `InvalidToolDefinition` that names the offending field."""
    try:
        if isinstance(source, bytes):
            definition = _decoder.decode(source)
        else:
            definition = msgspec.convert(source, ToolsetDefinition)
    except msgspec.ValidationError as exc:
        raise _invalid_from(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InvalidToolDefinition(f"The body is not valid JSON ({exc}).", code="invalid_json") from None
    except RecursionError:
        raise InvalidToolDefinition(
            "The body is nested too deeply (about 1,000 levels).", code="invalid_json"
        ) from None
    _check(definition, allow_private_networks, schemas)
    return definition


def decode_definition(data: bytes) -> ToolsetDefinition:
    """A definition stored by the registry itself (already validated when it was registered)."""
    return _decoder.decode(data)


def encode_definition(definition: ToolsetDefinition) -> bytes:
    return _encoder.encode(definition)


def redacted(definition: ToolsetDefinition) -> dict[str, Any]:
    """The definition as the admin API shows it: every header value replaced by `[redacted]`."""
    shown: dict[str, Any] = msgspec.to_builtins(definition)
    shown.setdefault("headers", {})
    shown["headers"] = dict.fromkeys(shown["headers"], REDACTED)
    for tool in shown.get("tools", ()):
        if "headers" in tool:
            tool["headers"] = dict.fromkeys(tool["headers"], REDACTED)
    return shown


def resolve_headers(headers: dict[str, str], param: str) -> dict[str, str]:
    """Header values with `${NAME}` replaced by the environment variable; an unset one is an error, and so is
    a name or (resolved) value that cannot be sent."""
    resolved: dict[str, str] = {}
    for name, template in headers.items():
        if HEADER_NAME.fullmatch(name) is None:
            shown = name[:64].encode("unicode_escape").decode("ascii")
            raise InvalidToolDefinition(
                f"'{shown}' is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~).", param=f"{param}.{name}"
            )

        def variable(match: re.Match[str], header: str = name) -> str:
            value = os.environ.get(match[1])
            if value is None:
                raise InvalidToolDefinition(
                    f"The header '{header}' uses the environment variable {match[1]}, which is not set.",
                    param=f"{param}.{header}",
                )
            return value

        value = _ENV_REFERENCE.sub(variable, template)
        if HEADER_VALUE.fullmatch(value) is None:
            # Never the value itself: header values are credentials more often than not.
            raise InvalidToolDefinition(
                f"The header '{name}' has a value that is not printable ASCII (a line break, a control or a "
                "non-ASCII character).",
                param=f"{param}.{name}",
            )
        resolved[name] = value
    return resolved


def _check(definition: ToolsetDefinition, allow_private: bool, schemas: SchemaCompiler) -> None:
    resolve_headers(definition.headers, "headers")
    if isinstance(definition, HttpToolset):
        _check_http(definition, allow_private, schemas)
    elif isinstance(definition, OpenAPIToolset):
        _check_openapi(definition, allow_private)
    else:
        _check_url(definition.url, "url", allow_private)


def _check_http(definition: HttpToolset, allow_private: bool, schemas: SchemaCompiler) -> None:
    if not definition.tools:  # left out: the default is not checked against the field's minimum length
        raise InvalidToolDefinition("An http toolset needs `tools`: at least one.", param="tools")
    room = MAX_NAME - len(definition.name) - 1
    seen: set[str] = set()
    for index, tool in enumerate(definition.tools):
        where = f"tools[{index}]"
        if not is_tool_name(tool.name) or len(tool.name) > room:
            raise InvalidToolDefinition(
                f"The tool name '{tool.name}' must be 1 to {room} letters, digits, '_' or '-' "
                f"(with the toolset's name it makes a tool name of at most {MAX_NAME}).",
                param=f"{where}.name",
            )
        if tool.name in seen:
            raise InvalidToolDefinition(f"Two tools are named '{tool.name}'.", param=f"{where}.name")
        seen.add(tool.name)
        _check_url(tool.url, f"{where}.url", allow_private)
        resolve_headers(tool.headers, f"{where}.headers")
        check_schema(tool.parameters, f"{where}.parameters", schemas)
        if tool.returns is not None:
            check_schema(tool.returns, f"{where}.returns", schemas)


def _check_openapi(definition: OpenAPIToolset, allow_private: bool) -> None:
    if not definition.openapi:
        raise InvalidToolDefinition(
            "An openapi toolset needs `openapi`: the document, or a file path or URL to read it from.",
            param="openapi",
        )
    if isinstance(definition.openapi, str) and definition.openapi.startswith(("http://", "https://")):
        _check_url(definition.openapi, "openapi", allow_private)
    if definition.base_url is not None:
        _check_url(definition.base_url, "base_url", allow_private)


def check_schema(schema: Schema, param: str, schemas: SchemaCompiler) -> None:
    """Raise `InvalidToolDefinition` (naming `param`) unless `schema` is a usable JSON Schema."""
    try:
        schemas.compile(schema)
    except SchemaInvalid as exc:
        where = f"{param}.{exc.path}" if exc.path else param
        raise InvalidToolDefinition(f"Invalid JSON Schema at '{where}': {exc.message}", param=param) from None


def _check_url(url: str, param: str, allow_private: bool) -> None:
    try:
        check_url(url, allow_private_networks=allow_private)
    except UrlRefused as exc:
        raise InvalidToolDefinition(f"The URL in '{param}' is refused: {exc}.", param=param) from None


def _invalid_from(message: str) -> InvalidToolDefinition:
    located = invalid_request(message)
    detail = located.message.replace("Invalid request", "Invalid toolset definition", 1)
    param = located.param
    if (unknown := _UNKNOWN_FIELD.search(message)) is not None:
        param = f"{param}.{unknown[1]}" if param else unknown[1]
    if param == "kind":
        detail += " A toolset's kind is one of http, openapi or mcp."
    return InvalidToolDefinition(detail, param=param)
