"""bind_tools, tool_choice mapping and with_structured_output."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from langchain_llm_router._tools import resolve_tool_choice

from llm_router_fakes import completion, json_response, tool_call

if TYPE_CHECKING:
    from llm_router_fakes import FakeRouter


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"It is sunny in {city}."


class Person(BaseModel):
    """A person."""

    name: str = Field(description="Full name")
    age: int


class PersonDict(TypedDict):
    """A person."""

    name: str
    age: int


NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        (False, None),
        (True, "required"),
        ("any", "required"),
        ("required", "required"),
        ("auto", "auto"),
        ("none", "none"),
        ("get_weather", NAMED),
        (NAMED, NAMED),
    ],
)
def test_tool_choice_mapping(choice: Any, expected: Any) -> None:
    assert resolve_tool_choice(choice, ["get_weather"]) == expected


def test_unknown_tool_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="get_wether"):
        resolve_tool_choice("get_wether", ["get_weather"])


def test_tool_choice_of_the_wrong_type_is_rejected() -> None:
    with pytest.raises(TypeError):
        resolve_tool_choice(3, ["get_weather"])  # type: ignore[arg-type]


def test_bind_tools_sends_openai_tools(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion("ok")))
    model = fake_router.model().bind_tools(
        [get_weather, Person],
        tool_choice="get_weather",
        strict=True,
        parallel_tool_calls=False,
    )

    model.invoke("Weather in Oslo?")

    body = fake_router.last_body
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "Person"]
    assert all(t["type"] == "function" for t in body["tools"])
    assert body["tools"][0]["function"]["strict"] is True
    assert body["tools"][0]["function"]["parameters"]["properties"] == {
        "city": {"type": "string"}
    }
    assert body["tool_choice"] == NAMED
    assert body["parallel_tool_calls"] is False


def test_bind_tools_without_options_sends_only_tools(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion("ok")))

    fake_router.model().bind_tools([get_weather]).invoke("Hi")

    body = fake_router.last_body
    assert "tool_choice" not in body
    assert "parallel_tool_calls" not in body
    assert "strict" not in body["tools"][0]["function"]


def person_call(arguments: str = '{"name": "Ada", "age": 36}') -> dict[str, Any]:
    return completion(None, tool_calls=[tool_call("call_1", "Person", arguments)])


def test_structured_output_function_calling_pydantic(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(person_call()))

    result = fake_router.model().with_structured_output(Person).invoke("Who?")

    assert result == Person(name="Ada", age=36)
    body = fake_router.last_body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Person"}}
    assert body["parallel_tool_calls"] is False
    assert "response_format" not in body


@pytest.mark.parametrize(
    "schema", [PersonDict, Person.model_json_schema()], ids=["typeddict", "json-schema"]
)
def test_structured_output_function_calling_dict_schemas(
    fake_router: FakeRouter, schema: Any
) -> None:
    name = "PersonDict" if schema is PersonDict else "Person"
    fake_router.queue(
        json_response(
            completion(
                None, tool_calls=[tool_call("c", name, '{"name": "Ada", "age": 36}')]
            )
        )
    )

    result = fake_router.model().with_structured_output(schema).invoke("Who?")

    assert result == {"name": "Ada", "age": 36}


def test_structured_output_json_schema(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion(json.dumps({"name": "Ada", "age": 36}))))

    result = (
        fake_router.model()
        .with_structured_output(Person, method="json_schema", strict=True)
        .invoke("Who?")
    )

    assert result == Person(name="Ada", age=36)
    response_format = fake_router.last_body["response_format"]
    assert response_format["type"] == "json_schema"
    json_schema = response_format["json_schema"]
    assert json_schema["name"] == "Person"
    assert json_schema["strict"] is True
    assert json_schema["description"] == "A person."
    assert json_schema["schema"]["properties"]["name"]["description"] == "Full name"
    assert "tools" not in fake_router.last_body


def test_structured_output_json_schema_with_typeddict(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion('{"name": "Ada", "age": 36}')))

    result = (
        fake_router.model()
        .with_structured_output(PersonDict, method="json_schema")
        .invoke("Who?")
    )

    assert result == {"name": "Ada", "age": 36}
    json_schema = fake_router.last_body["response_format"]["json_schema"]
    assert json_schema["name"] == "PersonDict"
    assert json_schema["strict"] is False


def test_structured_output_json_mode(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion('{"name": "Ada", "age": 36}')))

    result = (
        fake_router.model().with_structured_output(method="json_mode").invoke("Who?")
    )

    assert result == {"name": "Ada", "age": 36}
    assert fake_router.last_body["response_format"] == {"type": "json_object"}


def test_include_raw_returns_the_message_too(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(person_call()))

    result = (
        fake_router.model()
        .with_structured_output(Person, include_raw=True)
        .invoke("Who?")
    )

    assert isinstance(result, dict)
    assert result["parsed"] == Person(name="Ada", age=36)
    assert result["parsing_error"] is None
    assert result["raw"].tool_calls[0]["name"] == "Person"


def test_include_raw_reports_parsing_errors_instead_of_raising(
    fake_router: FakeRouter,
) -> None:
    fake_router.queue(json_response(person_call('{"name": "Ada"}')))

    result = (
        fake_router.model()
        .with_structured_output(Person, include_raw=True)
        .invoke("Who?")
    )

    assert isinstance(result, dict)
    assert result["parsed"] is None
    assert result["parsing_error"] is not None


def test_structured_output_rejects_bad_arguments(fake_router: FakeRouter) -> None:
    model = fake_router.model()
    with pytest.raises(ValueError, match="method"):
        model.with_structured_output(Person, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a schema"):
        model.with_structured_output(None)
    with pytest.raises(ValueError, match="unsupported"):
        model.with_structured_output(Person, tools=[get_weather])
