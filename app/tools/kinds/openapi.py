"""`openapi` toolsets: each operation of an OpenAPI 3.x document is a tool.

A tool is named from its `operationId` (or `<method>_<path>` without one). Its parameters are one JSON
object: the operation's path, query and header parameters by name, plus its JSON request body, whose
properties are merged in when the body is an object whose names do not clash, and which is the `body`
property otherwise. Local `$ref`s (`#/components/...`) are inlined, so each tool's schema stands alone; a
reference that loops is cut to `{}` (anything) where it comes round again. The document comes from the
definition itself, a file, or a URL fetched through the same guarded client as the calls.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin

import yaml

from app.tools.definitions import check_schema, resolve_headers
from app.tools.egress import UrlRefused, check_url
from app.tools.kinds.base import ToolSpec
from app.tools.kinds.http import send_http
from providers.errors import InvalidToolArguments, InvalidToolDefinition, ToolError
from providers.pool import HEADER_VALUE

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.schemas import SchemaCompiler
    from app.tools.definitions import OpenAPIToolset
    from app.tools.egress import EgressClient
    from app.tools.results import ToolOutput

__all__ = ["OpenAPIBackend", "operations_as_tools"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_PLACES = ("path", "query", "header")
_MAX_DEPTH = 32


class OpenAPIBackend:
    def __init__(
        self,
        definition: OpenAPIToolset,
        egress: EgressClient,
        schemas: SchemaCompiler,
        *,
        max_output_bytes: int,
        max_document_bytes: int,
    ) -> None:
        self.definition = definition
        self.schemas = schemas
        self.egress = egress
        self.max_output_bytes = max_output_bytes
        self.max_document_bytes = max_document_bytes
        self.headers = resolve_headers(definition.headers, "headers")
        self.base_url = definition.base_url

    async def discover(self) -> list[ToolSpec]:
        document, source_url = await self._document()
        base_url = self.definition.base_url or _server_url(document, source_url)
        try:
            check_url(base_url, allow_private_networks=self.egress.allow_private_networks)
        except UrlRefused as exc:
            raise InvalidToolDefinition(
                f"The toolset's base URL {base_url!r} is refused: {exc}. Set `base_url`.", param="base_url"
            ) from None
        self.base_url = base_url
        try:
            specs = operations_as_tools(document, self.definition.operations, self.schemas)
        except RecursionError:
            raise InvalidToolDefinition(
                "The OpenAPI document's schemas are nested too deeply (hundreds of levels).", param="openapi"
            ) from None
        for spec in specs:
            spec.call["base_url"] = base_url
        return specs

    async def call(
        self, spec: ToolSpec, arguments: dict[str, Any], *, time_limit: float, headers: Mapping[str, str] | None = None
    ) -> ToolOutput:
        call = spec.call
        path: str = call["path"]
        query: dict[str, Any] = {}
        extra: dict[str, str] = {}
        body: Any = None
        flat_body: dict[str, Any] = {}
        for name, value in arguments.items():
            place = call["places"].get(name)
            if place == "path":
                path = path.replace("{" + name + "}", quote(str(value), safe=""))
            elif place == "query":
                query[name] = value
            elif place == "header":
                extra[name] = _header_value(name, value)
            elif place == "body":
                body = value
            else:
                flat_body[name] = value
        if call.get("body") == "flat" and flat_body:
            body = flat_body
        url = call.get("base_url", self.base_url or "").rstrip("/") + path
        return await send_http(
            self.egress,
            call["method"],
            url,
            body if call.get("body") else None,
            query=query,
            headers=self.headers | extra | dict(headers or {}),
            time_limit=time_limit,
            max_bytes=self.max_output_bytes,
        )

    async def aclose(self) -> None:
        return None

    async def _document(self) -> tuple[dict[str, Any], str | None]:
        source = self.definition.openapi
        if isinstance(source, dict):
            return source, None
        if source.startswith(("http://", "https://")):
            answer = await self.egress.request(
                "GET", source, time_limit=30.0, max_bytes=self.max_document_bytes, what="the OpenAPI document's server"
            )
            if answer.truncated:
                raise ToolError(f"The OpenAPI document is larger than {self.max_document_bytes} bytes.")
            if answer.status >= 400:
                raise ToolError(f"Fetching the OpenAPI document answered HTTP {answer.status}.")
            text, url = answer.body.decode("utf-8", "replace"), source
        else:
            try:
                text, url = await asyncio.to_thread(Path(source).read_text, encoding="utf-8"), None
            except OSError as exc:
                raise InvalidToolDefinition(
                    f"The OpenAPI document cannot be read from {source!r} ({exc.strerror}).", param="openapi"
                ) from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            document = None
        if not isinstance(document, dict):
            raise InvalidToolDefinition("The OpenAPI document is not a JSON or YAML object.", param="openapi")
        return document, url


def _header_value(name: str, value: Any) -> str:
    text = str(value)
    if not HEADER_VALUE.fullmatch(text):
        # Not the value: a line break in it would have written headers of the model's choosing.
        raise InvalidToolArguments(
            f"The argument {name!r} is sent as a header, which holds printable ASCII only (no line break, "
            "control or non-ASCII character).",
            param=f"arguments.{name}",
        )
    return text


def operations_as_tools(document: dict[str, Any], allowed: list[str] | None, schemas: SchemaCompiler) -> list[ToolSpec]:
    """A tool for each operation of the document (only those in `allowed`, by operationId, when given)."""
    version = str(document.get("openapi", ""))
    if not version.startswith("3."):
        raise InvalidToolDefinition(
            f"Only OpenAPI 3.x documents are supported (the document's `openapi` field says {version or 'nothing'}).",
            param="openapi",
        )
    specs: list[ToolSpec] = []
    paths = document.get("paths") or {}
    for path, item in paths.items() if isinstance(paths, dict) else ():
        if not isinstance(item, dict):
            continue
        item = _resolved(item, document)
        shared = item.get("parameters") or []
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            name = operation.get("operationId") or f"{method}_{path}"
            if allowed is not None and name not in allowed:
                continue
            specs.append(_operation_tool(document, path, method, name, operation, shared, schemas))
    if allowed is not None:
        missing = sorted(set(allowed) - {spec.name for spec in specs})
        if missing:
            raise InvalidToolDefinition(
                f"The document has no operation {', '.join(map(repr, missing))}.", param="operations"
            )
    return specs


def _operation_tool(
    document: dict[str, Any],
    path: str,
    method: str,
    name: str,
    operation: dict[str, Any],
    shared: list[Any],
    schemas: SchemaCompiler,
) -> ToolSpec:
    limit = schemas.settings.max_values
    properties: dict[str, Any] = {}
    required: list[str] = []
    places: dict[str, str] = {}
    parameters = {}
    for raw in [*shared, *(operation.get("parameters") or [])]:
        parameter = _resolved(raw, document)
        if isinstance(parameter, dict) and parameter.get("in") in _PLACES and parameter.get("name"):
            parameters[(parameter["in"], parameter["name"])] = parameter  # the operation's own wins
    for (place, pname), parameter in parameters.items():
        schema = _inlined(parameter.get("schema") or {"type": "string"}, document, limit)
        if parameter.get("description") and "description" not in schema:
            schema = {**schema, "description": parameter["description"]}
        properties[pname] = schema
        places[pname] = place
        if parameter.get("required") or place == "path":
            required.append(pname)
    body_mode: str | None = None
    body = _resolved(operation.get("requestBody") or {}, document)
    media = (body.get("content") or {}).get("application/json") if isinstance(body, dict) else None
    if isinstance(media, dict):
        schema = _inlined(media.get("schema") or {}, document, limit)
        nested = schema.get("properties")
        if schema.get("type", "object") == "object" and isinstance(nested, dict) and not set(nested) & set(places):
            body_mode = "flat"
            properties.update(nested)
            required += [field for field in schema.get("required", ()) if field in nested]
        else:
            body_mode = "nested"
            properties["body"] = schema
            places["body"] = "body"
            if body.get("required"):
                required.append("body")
    parameters_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters_schema["required"] = required
    check_schema(parameters_schema, f"openapi.paths.{path}.{method}", schemas)
    return ToolSpec(
        name=name,
        description=operation.get("description") or operation.get("summary") or "",
        parameters=parameters_schema,
        returns=_returns(operation, document, limit),
        version=str(document.get("info", {}).get("version") or "") or None,
        call={"method": method.upper(), "path": path, "places": places, "body": body_mode},
    )


def _returns(operation: dict[str, Any], document: dict[str, Any], limit: int) -> dict[str, Any] | None:
    responses = operation.get("responses") or {}
    for status in ("200", "201", "2XX", "default"):
        response = _resolved(responses.get(status) or {}, document)
        media = (response.get("content") or {}).get("application/json") if isinstance(response, dict) else None
        if isinstance(media, dict) and isinstance(media.get("schema"), dict):
            inlined: dict[str, Any] = _inlined(media["schema"], document, limit)
            return inlined
    return None


def _server_url(document: dict[str, Any], source_url: str | None) -> str:
    servers = document.get("servers") or []
    url = servers[0].get("url") if servers and isinstance(servers[0], dict) else None
    if not url:
        raise InvalidToolDefinition("The OpenAPI document names no server: set `base_url`.", param="base_url")
    return urljoin(source_url, url) if source_url else str(url)


def _resolved(node: Any, document: dict[str, Any]) -> Any:
    """A node with a top-level local `$ref` followed (a parameter, a request body, a response)."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < _MAX_DEPTH:
        node = _pointer(document, node["$ref"])
        seen += 1
    return node


def _inlined(schema: Any, document: dict[str, Any], limit: int) -> Any:
    """A copy of `schema` with every local `$ref` replaced by what it points to (a loop becomes `{}`).

    References that branch again and again would expand exponentially: past `limit` JSON values (the
    schema compiler's `max_values`, which would refuse the result anyway) the document is refused.
    """
    return _Inliner(document, limit).inline(schema, ())


class _Inliner:
    __slots__ = ("document", "left", "limit")

    def __init__(self, document: dict[str, Any], limit: int) -> None:
        self.document = document
        self.limit = self.left = limit

    def inline(self, schema: Any, trail: tuple[str, ...]) -> Any:
        self.left -= 1
        if self.left < 0:
            raise InvalidToolDefinition(
                f"A schema in the OpenAPI document expands to more than {self.limit} values once its references "
                "are followed ([schemas] max_values).",
                param="openapi",
            )
        if isinstance(schema, dict):
            reference = schema.get("$ref")
            if isinstance(reference, str):
                if reference in trail or len(trail) >= _MAX_DEPTH:
                    return {}
                return self.inline(_pointer(self.document, reference), (*trail, reference))
            return {key: self.inline(value, trail) for key, value in schema.items()}
        if isinstance(schema, list):
            return [self.inline(value, trail) for value in schema]
        return copy.copy(schema)


def _pointer(document: dict[str, Any], reference: str) -> Any:
    if not reference.startswith("#/"):
        raise InvalidToolDefinition(
            f"The OpenAPI document refers to {reference!r}: only references within the document are supported.",
            param="openapi",
        )
    node: Any = document
    for part in reference[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise InvalidToolDefinition(
                f"The OpenAPI document's reference {reference!r} leads nowhere.", param="openapi"
            )
        node = node[part]
    return node
