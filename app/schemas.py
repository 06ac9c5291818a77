"""JSON Schema validation with the interface the tool registry uses.

Placeholder for the bounded-time validator of the `schemas` branch, with the same API:
`compile_schema(schema) -> Schema` (raises `SchemaInvalid(path, message)`), and
`Schema.first_error(instance) -> Problem(path, message) | None`, the path in OpenAI `param` style
(`city`, `items[2].name`). It delegates to `jsonschema` (draft-07 and 2020-12, by `$schema`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

__all__ = ["Problem", "Schema", "SchemaInvalid", "compile_schema"]


class SchemaInvalid(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str


class Schema:
    def __init__(self, validator: Any) -> None:
        self._validator = validator

    def first_error(self, instance: Any) -> Problem | None:
        error = best_match(self._validator.iter_errors(instance))
        if error is None:
            return None
        return Problem(_param(error.absolute_path), error.message)


def compile_schema(schema: Any) -> Schema:
    if not isinstance(schema, dict | bool):
        raise SchemaInvalid("", "a schema must be an object or a boolean")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)  # type: ignore[arg-type]
    except jsonschema.SchemaError as exc:
        raise SchemaInvalid(_param(exc.absolute_path), exc.message) from None
    return Schema(cls(schema))


def _param(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
