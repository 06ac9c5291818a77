"""Structured output, multimodal input and history round trips against a router."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from langchain_llm_router import ChatLLMRouter

if TYPE_CHECKING:
    from llm_router_process import RunningRouter

pytestmark = pytest.mark.integration

# A 1x1 transparent PNG.
PIXEL_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB"
    "0C8AAAAASUVORK5CYII="
)


class Joke(BaseModel):
    """A joke."""

    setup: str = Field(description="question to set up a joke")
    punchline: str = Field(description="answer to resolve the joke")
    rating: int | None = Field(default=None, description="1 to 10")


class JokeDict(TypedDict):
    """A joke."""

    setup: str
    punchline: str


@pytest.fixture
def model(router: RunningRouter) -> ChatLLMRouter:
    return ChatLLMRouter(model="mock/text", base_url=router.base_url, temperature=0)


@pytest.mark.parametrize("strict", [None, True])
def test_json_schema_method_with_pydantic(
    model: ChatLLMRouter, strict: bool | None
) -> None:
    structured = model.with_structured_output(Joke, method="json_schema", strict=strict)

    assert isinstance(structured.invoke("Tell me a joke"), Joke)
    streamed = list(structured.stream("Tell me a joke"))
    assert streamed
    assert all(isinstance(item, Joke) for item in streamed)


@pytest.mark.parametrize(
    "schema", [JokeDict, Joke.model_json_schema()], ids=["typeddict", "json-schema"]
)
async def test_json_schema_method_with_dict_schemas(
    model: ChatLLMRouter, schema: Any
) -> None:
    structured = model.with_structured_output(schema, method="json_schema")

    result = await structured.ainvoke("Tell me a joke")

    assert isinstance(result, dict)
    assert {"setup", "punchline"} <= set(result)


def test_json_schema_method_with_raw_output(model: ChatLLMRouter) -> None:
    structured = model.with_structured_output(
        Joke, method="json_schema", include_raw=True
    )

    result = structured.invoke("Tell me a joke")

    assert isinstance(result, dict)
    assert isinstance(result["parsed"], Joke)
    assert result["parsing_error"] is None
    assert json.loads(result["raw"].text)["setup"] == result["parsed"].setup


def test_json_mode(model: ChatLLMRouter) -> None:
    result = model.with_structured_output(method="json_mode").invoke("Answer in JSON")

    assert isinstance(result, dict)
    assert result


def test_max_tokens_truncates_with_finish_reason_length(model: ChatLLMRouter) -> None:
    limited = model.model_copy(update={"max_tokens": 2})

    message = limited.invoke("Hello")
    merged = None
    for chunk in limited.stream("Hello"):
        merged = chunk if merged is None else merged + chunk

    assert message.response_metadata["finish_reason"] == "length"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 2
    assert merged is not None
    assert merged.response_metadata["finish_reason"] == "length"


def test_images_as_content_parts(model: ChatLLMRouter) -> None:
    message = HumanMessage(
        content=[
            {"type": "text", "text": "Describe these images."},
            {"type": "image", "base64": PIXEL_PNG, "mime_type": "image/png"},
            {
                "type": "image_url",
                "image_url": {"url": f"data:image/png;base64,{PIXEL_PNG}"},
            },
        ]
    )

    assert model.invoke([message]).text


def test_developer_and_named_messages_and_reasoning_history(
    model: ChatLLMRouter,
) -> None:
    history = [
        SystemMessage("You are terse."),
        ChatMessage(role="developer", content="Answer in English."),
        HumanMessage("What is 6*7?", name="ada"),
        AIMessage("42", additional_kwargs={"reasoning_content": "6 times 7 is 42"}),
        HumanMessage("Thanks!", name="ada"),
    ]

    assert model.invoke(history).text
