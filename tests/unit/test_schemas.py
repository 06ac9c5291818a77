"""The JSON Schema validator for client- and operator-supplied schemas: drafts, references, error paths,
bounded time on hostile schemas and values, and the 400 a request with an unusable tool schema gets."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from app.schemas import Problem, SchemaCompiler, SchemaInvalid
from app.settings import SchemaSettings
from providers.errors import InvalidRequest

from .support import USER_HI, assert_error

if TYPE_CHECKING:
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

SCHEMAS = SchemaCompiler()
LIMITS = SchemaSettings()
MAX_DEPTH, MAX_PATTERNS, MAX_SCHEMA_VALUES = LIMITS.max_depth, LIMITS.max_patterns, LIMITS.max_values
PATHOLOGICAL = {"type": "object", "properties": {"city": {"type": "string", "pattern": "^(a+)+$"}}}


def first_error(schema: dict[str, Any], instance: Any) -> Problem | None:
    return SCHEMAS.compile(schema).first_error(instance)


def refusal(schema: dict[str, Any]) -> SchemaInvalid:
    with pytest.raises(SchemaInvalid) as caught:
        SCHEMAS.compile(schema)
    return caught.value


def nested_lists(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


# ----------------------------------------------------------------------------------------- bounded time


@pytest.mark.parametrize("length", [27, 100_000])
def test_a_backtracking_pattern_is_matched_in_linear_time(length: int) -> None:
    schema = SCHEMAS.compile(PATHOLOGICAL)

    started = time.perf_counter()
    problem = schema.first_error({"city": "a" * length + "!"})
    elapsed = time.perf_counter() - started

    assert problem is not None
    assert problem.path == "city"
    assert "does not match" in problem.message
    assert elapsed < 0.1  # a backtracking engine takes seconds at 27 characters, doubling with each one more


def test_pattern_properties_and_property_names_use_the_same_engine() -> None:
    key = "a" * 100_000 + "!"
    started = time.perf_counter()
    by_pattern = first_error(
        {"patternProperties": {"^(a+)+$": {"type": "string"}}, "additionalProperties": False}, {key: 1}
    )
    by_name = first_error({"propertyNames": {"pattern": "^(a+)+$"}}, {key: 1})

    assert by_pattern is not None
    assert by_name is not None
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("^(?=a)", id="lookahead"),
        pytest.param("(?<!a)b", id="lookbehind"),
        pytest.param(r"(a)\1", id="backreference"),
        pytest.param("(", id="not-a-regex"),
        pytest.param(r"\p{L}{5000}", id="too-large-compiled"),
    ],
)
def test_a_pattern_the_linear_engine_cannot_run_is_refused_at_compile_time(pattern: str) -> None:
    error = refusal({"type": "object", "properties": {"city": {"type": "string", "pattern": pattern}}})

    assert error.path == "properties.city.pattern"
    assert "lookaround or backreferences" in error.message


def test_a_pattern_property_the_engine_cannot_run_is_refused_where_it_is() -> None:
    error = refusal({"patternProperties": {"(?=x)": {}}})

    assert error.path == 'patternProperties["(?=x)"]'


def test_limits_on_schemas_are_refusals_not_slow_compiles() -> None:
    too_deep: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH):
        too_deep = {"items": too_deep}
    too_many_values = {"enum": list(range(MAX_SCHEMA_VALUES))}
    too_many_patterns = {"properties": {f"p{i}": {"pattern": f"^{i}$"} for i in range(MAX_PATTERNS + 1)}}

    started = time.perf_counter()
    deep = refusal(too_deep)
    large = refusal(too_many_values)
    patterns = refusal(too_many_patterns)

    assert deep.path.startswith("items.items.")
    assert f"deeper than {MAX_DEPTH}" in deep.message
    assert f"more than {MAX_SCHEMA_VALUES} values" in large.message
    assert f"more than {MAX_PATTERNS} regular expressions" in patterns.message
    assert time.perf_counter() - started < 0.5


def test_a_value_nested_past_the_limit_is_a_problem_not_a_crash() -> None:
    # Native recursion this deep would kill the process (a recursive schema follows any depth).
    recursive = {"type": "array", "items": {"$ref": "#"}}

    assert first_error(recursive, nested_lists(MAX_DEPTH)) is None
    problem = first_error(recursive, nested_lists(100_000))
    assert problem == Problem("[0]" * MAX_DEPTH, f"The value is nested deeper than {MAX_DEPTH} levels.")


@pytest.mark.parametrize(
    ("value", "path"),
    [
        pytest.param(float("inf"), "", id="infinite"),
        pytest.param({"n": [1, float("-inf")]}, "n[1]", id="infinite-inside"),
        pytest.param({"n": [float("nan")]}, "n[0]", id="nan"),
        pytest.param({1: "x"}, "", id="key-not-a-string"),
        pytest.param(b"bytes", "", id="bytes"),
    ],
)
def test_a_value_that_is_not_json_is_a_problem_not_an_exception(value: Any, path: str) -> None:
    # JSON's 1e400 decodes to infinity, which the engine would take for a number within any bounds.
    problem = first_error({"type": "object", "properties": {"n": {"items": {"maximum": 10}}}}, value)

    assert problem is not None
    assert problem.path == path


# -------------------------------------------------------------------------------------- drafts and $ref


def test_draft_07_schemas() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"unit": {"enum": ["celsius", "fahrenheit"]}},
        "type": "object",
        "properties": {
            "unit": {"$ref": "#/definitions/unit"},
            "point": {"type": "array", "items": [{"type": "number"}, {"type": "number"}], "additionalItems": False},
        },
        "dependencies": {"point": ["unit"]},
    }

    assert first_error(schema, {"unit": "celsius", "point": [1, 2]}) is None
    assert first_error(schema, {"unit": "kelvin"}) == Problem(
        "unit", '"kelvin" is not one of "celsius" or "fahrenheit".'
    )
    assert first_error(schema, {"unit": "celsius", "point": [1, "x"]}).path == "point[1]"  # type: ignore[union-attr]
    assert first_error(schema, {"unit": "celsius", "point": [1, 2, 3]}).path == "point"  # type: ignore[union-attr]
    assert first_error(schema, {"point": [1, 2]}) is not None


def test_draft_2020_12_schemas() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"name": {"type": "string", "minLength": 1}},
        "type": "object",
        "properties": {
            "pair": {"type": "array", "prefixItems": [{"$ref": "#/$defs/name"}], "items": False},
            "label": {"type": "string"},
        },
        "dependentRequired": {"pair": ["label"]},
        "unevaluatedProperties": False,
    }

    assert first_error(schema, {"pair": ["a"], "label": "x"}) is None
    assert first_error(schema, {"pair": ["a"]}) == Problem("label", '"label" is a required property.')
    assert first_error(schema, {"pair": [""], "label": "x"}).path == "pair[0]"  # type: ignore[union-attr]
    assert first_error(schema, {"pair": ["a", "b"], "label": "x"}).path == "pair[1]"  # type: ignore[union-attr]
    assert first_error(schema, {"label": "x", "other": 1}).path == "other"  # type: ignore[union-attr]


def test_no_schema_means_2020_12() -> None:
    # `prefixItems` means nothing before 2020-12; `items` as a list is refused by 2020-12's meta-schema.
    assert first_error({"prefixItems": [{"type": "string"}]}, [1]) is not None
    assert refusal({"items": [{"type": "string"}]}).path == "items"


def test_refs_to_defs_report_the_path_in_the_value() -> None:
    schema = {
        "$defs": {"stop": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/stop"}}},
    }

    assert first_error(schema, {"items": [{"name": "a"}, {"name": "b"}]}) is None
    assert first_error(schema, {"items": [{"name": "a"}, {"name": "b"}, {"name": 3}]}) == Problem(
        "items[2].name", '3 is not of type "string".'
    )
    assert first_error(schema, {"items": [{"name": "a"}, {}]}) == Problem(
        "items[1].name", '"name" is a required property.'
    )


def test_a_recursive_schema_validates() -> None:
    tree = {
        "type": "object",
        "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}},
    }

    assert first_error(tree, {"children": [{"children": [{"label": "leaf"}]}]}) is None
    assert first_error(tree, {"children": [{"children": [{"label": 1}]}]}).path == "children[0].children[0].label"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        pytest.param({"$ref": "#/nope"}, "$ref", id="root"),
        pytest.param(
            {"$defs": {"a": {}}, "properties": {"ok": {"$ref": "#/$defs/a"}, "bad": {"$ref": "#/$defs/b"}}},
            "properties.bad.$ref",
            id="beside-a-good-one",
        ),
        pytest.param({"properties": {"a": {"$ref": "#/properties/b"}}}, "properties.a.$ref", id="pointer"),
        pytest.param({"items": {"$ref": "other.json"}}, "items.$ref", id="relative-file"),
        pytest.param({"items": {"$ref": "http://169.254.169.254/latest/meta-data"}}, "items.$ref", id="remote"),
    ],
)
def test_an_unresolvable_ref_is_refused_at_compile_time(schema: dict[str, Any], path: str) -> None:
    started = time.perf_counter()
    error = refusal(schema)

    assert error.path == path
    assert "does not resolve" in error.message
    assert time.perf_counter() - started < 0.1  # nothing was fetched


def test_a_ref_to_a_standard_meta_schema_needs_no_network() -> None:
    assert first_error({"$ref": "https://json-schema.org/draft/2020-12/schema"}, {"type": "string"}) is None
    assert first_error({"$ref": "https://json-schema.org/draft/2020-12/schema"}, {"type": 5}) is not None


def test_an_unknown_meta_schema_is_refused() -> None:
    error = refusal({"$schema": "https://example.com/my-meta-schema", "type": "object"})

    assert error.path == "$schema"
    assert "draft-07 or 2020-12" in error.message


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        pytest.param({"type": "object", "properties": {"city": {"type": "nope"}}}, "properties.city.type", id="type"),
        pytest.param({"properties": {"city": {"minLength": -1}}}, "properties.city.minLength", id="min-length"),
        pytest.param({"required": "city"}, "required", id="required"),
        pytest.param({"anyOf": [{"type": "string"}, {"maximum": "ten"}]}, "anyOf[1].maximum", id="any-of"),
        pytest.param({"maximum": float("inf")}, "maximum", id="infinite"),
    ],
)
def test_a_schema_its_meta_schema_rejects_is_refused_where_it_is_wrong(schema: dict[str, Any], path: str) -> None:
    error = refusal(schema)

    assert error.path == path
    assert error.message.endswith(".")


# -------------------------------------------------------------------------------------------- error paths


@pytest.mark.parametrize(
    ("schema", "instance", "path"),
    [
        pytest.param({"type": "object"}, [], "", id="root"),
        pytest.param({"properties": {"city": {"type": "string"}}}, {"city": 1}, "city", id="property"),
        pytest.param({"required": ["city"]}, {}, "city", id="missing-property"),
        pytest.param(
            {"properties": {"city": {}}, "additionalProperties": False}, {"city": "x", "town": "y"}, "town", id="extra"
        ),
        pytest.param({"items": {"type": "integer"}}, [1, 2, "x"], "[2]", id="index-at-root"),
        pytest.param({"properties": {"a b": {"type": "integer"}}}, {"a b": "x"}, '["a b"]', id="key-with-space"),
        pytest.param(
            {"properties": {"x": {"properties": {"a.b": {"type": "integer"}}}}},
            {"x": {"a.b": "x"}},
            'x["a.b"]',
            id="dot",
        ),
    ],
)
def test_problems_name_the_place_in_openai_param_style(schema: dict[str, Any], instance: Any, path: str) -> None:
    problem = first_error(schema, instance)

    assert problem is not None
    assert problem.path == path


@pytest.mark.parametrize(
    ("path", "param"),
    [("city", "arguments.city"), ("[2].name", "arguments[2].name"), ("", "arguments"), ('["a b"]', 'arguments["a b"]')],
)
def test_a_problem_path_under_a_prefix(path: str, param: str) -> None:
    assert Problem(path, "x").param("arguments") == param


def test_any_of_reports_the_branch_that_was_meant() -> None:
    schema = {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"n": {"type": "integer"}}}]}

    assert first_error(schema, {"n": "x"}) == Problem("n", '"x" is not of type "integer".')


def test_messages_quoting_long_values_are_cut() -> None:
    problem = first_error({"maxLength": 3}, "x" * 100_000)

    assert problem is not None
    assert len(problem.message) < 400


def test_formats_are_annotations() -> None:
    assert first_error({"type": "string", "format": "date"}, "next Tuesday") is None


# -------------------------------------------------------------------------------------------------- cache


def test_the_same_schema_is_compiled_once_whatever_its_key_order() -> None:
    one = SCHEMAS.compile({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]})
    two = SCHEMAS.compile({"required": ["a"], "properties": {"a": {"type": "string"}}, "type": "object"})

    assert one is two


def test_a_refused_schema_is_refused_again_from_the_cache() -> None:
    schema = {"$ref": "#/cached-refusal", "title": "x" * 500}
    first = refusal(schema)
    second = refusal(schema)

    assert first is not second
    assert (first.path, first.message) == (second.path, second.message)


# ----------------------------------------------------------------------------------------------- requests


def test_check_tool_schemas_names_the_schema_in_the_request() -> None:
    tools = [
        ("tools[0].function.parameters", "ok", {"type": "object"}),
        ("tools[1].function.parameters", "none", None),
        ("tools[2].function.parameters", "get_weather", {"properties": {"city": {"$ref": "#/nope"}}}),
    ]

    with pytest.raises(InvalidRequest) as caught:
        SCHEMAS.check_tool_schemas(tools)

    assert caught.value.param == "tools[2].function.parameters"
    assert caught.value.code == "invalid_function_parameters"
    assert caught.value.message.startswith("Invalid schema for function 'get_weather' at properties.city.$ref:")


def tool(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "get_weather", "parameters": parameters}}


async def test_a_chat_request_with_an_unusable_tool_schema_is_a_400_before_any_upstream_call(
    client: Client, upstream: respx.MockRouter
) -> None:
    body = {
        "model": "openrouter/any/model",
        "messages": USER_HI,
        "tools": [tool({"type": "object"}), tool({"$ref": "#/nope"})],
    }

    response = await client.post("/v1/chat/completions", content=json.dumps(body))

    error = assert_error(response, 400, code="invalid_function_parameters", type_="invalid_request_error")
    assert error["param"] == "tools[1].function.parameters"
    assert "'#/nope' does not resolve" in error["message"]
    assert not upstream.calls


async def test_a_responses_request_with_an_unusable_tool_schema_is_a_400(
    client: Client, upstream: respx.MockRouter
) -> None:
    body = {
        "model": "openrouter/any/model",
        "input": "Hi",
        "tools": [{"type": "function", "name": "f", "parameters": {"properties": {"q": {"pattern": "(?=x)"}}}}],
    }

    response = await client.post("/v1/responses", content=json.dumps(body))

    error = assert_error(response, 400, code="invalid_function_parameters", type_="invalid_request_error")
    assert error["param"] == "tools[0].parameters"
    assert not upstream.calls


async def test_a_usable_tool_schema_passes_on_the_way_in(client: Client) -> None:
    body = {"model": "mock/tool", "messages": USER_HI, "tools": [tool(PATHOLOGICAL)]}

    response = await client.post("/v1/chat/completions", content=json.dumps(body))

    assert response.status_code == 200, response.text


def test_the_limits_are_the_schemas_settings() -> None:
    two_patterns = {"properties": {"a": {"pattern": "^a$"}, "b": {"pattern": "^b$"}}}
    strict = SchemaCompiler(SchemaSettings(max_patterns=1, max_depth=4))

    SCHEMAS.compile(two_patterns)
    with pytest.raises(SchemaInvalid, match="more than 1 regular expressions"):
        strict.compile(two_patterns)
    nested: dict[str, Any] = {"type": "object"}
    for _ in range(5):
        nested = {"type": "array", "items": nested}
    with pytest.raises(SchemaInvalid, match="deeper than 4 levels"):
        strict.compile(nested)
    assert strict.compile({"type": "object"}).first_error({"a": [[[[1]]]]}) is not None


async def test_a_router_applies_its_configured_schema_limits(make_client: Any, upstream: respx.MockRouter) -> None:
    tool = {
        "type": "function",
        "function": {"name": "f", "parameters": {"properties": {"a": {"pattern": "^a$"}, "b": {"pattern": "^b$"}}}},
    }
    async with make_client(schemas={"max_patterns": 1}) as client:
        response = await client.post(
            "/v1/chat/completions", json={"model": "mock/tool", "messages": USER_HI, "tools": [tool]}
        )

    error = assert_error(response, 400, code="invalid_function_parameters")
    assert error["param"] == "tools[0].function.parameters"
    assert not upstream.calls
