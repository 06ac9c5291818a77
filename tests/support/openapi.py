"""Validation against OpenAI's own OpenAPI description (tests/specs/openai-openapi.yaml).

The description is OpenAPI 3.1 but still marks nullable fields the 3.0 way (`nullable: true`), which JSON
Schema ignores; they are rewritten to `null`-admitting schemas once, when the file is loaded.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["assert_valid", "validator"]

SPEC = Path(__file__).resolve().parent.parent / "specs" / "openai-openapi.yaml"
_URI = "urn:openai-openapi"


def _admit_null(node: Any) -> Any:
    if isinstance(node, list):
        return [_admit_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _admit_null(value) for key, value in node.items()}
    if node.pop("nullable", False):
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        elif kind is None:
            return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _registry() -> Registry:
    with SPEC.open("rb") as file:
        document = _admit_null(yaml.load(file, Loader=yaml.CSafeLoader))
    registry: Registry = Registry().with_resource(
        _URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return registry


@functools.cache
def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """A validator for `#/components/schemas/<schema_name>`."""
    schema = {"$ref": f"{_URI}#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def assert_valid(instance: Any, schema_name: str) -> None:
    """Fail with every violation listed when `instance` does not match the named schema."""
    errors = sorted(validator(schema_name).iter_errors(instance), key=lambda error: list(error.absolute_path))
    assert not errors, f"not a valid {schema_name}:\n" + "\n".join(
        f"- at {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}" for error in errors
    )
