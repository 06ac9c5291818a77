"""The Responses API through the real router, driven by the official openai SDK.

Each model answers through a different path: the built-in mock provider, and the scripted upstream in
OpenRouter's and DeepSeek's dialects. Every response and every stream event is validated against OpenAI's
OpenAPI schemas; the scripted upstream shows what the conversation became in chat form.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.support.openapi import assert_valid
from tests.support.responses import assert_event_stream, parse_response_sse

if TYPE_CHECKING:
    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

MODELS = ["mock/tool", "openrouter/tool", "deepseek/tool"]
WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather at a location.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["location"],
    },
    "strict": False,
}
QUESTION = "What is the weather in 'Lyon'?"
TOOL_RESULT = "It is sunny in Lyon."


def create(client: openai.OpenAI, *, stream: bool, **request: Any) -> dict[str, Any]:
    """One answer as JSON, validated: the response, or the final response of a valid stream."""
    if not stream:
        response = client.responses.create(**request)
        body: dict[str, Any] = response.to_dict(mode="json")
        assert_valid(body, "Response")
        return body
    with client.responses.create(stream=True, **request) as events:
        received = [event.to_dict(mode="json") for event in events]
    return assert_event_stream(received)


def expected_arguments(model: str) -> dict[str, Any]:
    if model.startswith("mock/"):
        return {"location": "Lyon"}  # from the quoted text of the question
    return {"location": "Paris, France", "unit": "celsius"}  # the scripted upstream's fixed call


def function_call(response: dict[str, Any]) -> dict[str, Any]:
    calls: list[dict[str, Any]] = [item for item in response["output"] if item["type"] == "function_call"]
    (call,) = calls
    assert call["id"].startswith("fc_")
    assert call["status"] == "completed"
    assert call["call_id"]
    assert call["name"] == "get_weather"
    return call


def answer_text(response: dict[str, Any]) -> str:
    assert response["status"] == "completed"
    assert not [item for item in response["output"] if item["type"] == "function_call"]
    (message,) = [item for item in response["output"] if item["type"] == "message"]
    assert message["id"].startswith("msg_")
    (part,) = message["content"]
    assert part["type"] == "output_text"
    assert part["annotations"] == []
    return str(part["text"])


def assert_upstream_saw_round_trip(upstream: Upstream, model: str, call_id: str) -> None:
    """The scripted upstream got the whole conversation in chat form, the call's id kept end to end."""
    dialect = model.partition("/")[0]
    if dialect == "mock":
        return
    messages = upstream.last(dialect).body["messages"]
    assert [message["role"] for message in messages] == ["user", "assistant", "tool"]
    assert messages[0]["content"] == QUESTION
    (call,) = messages[1]["tool_calls"]
    assert call["id"] == call_id
    assert call["function"]["name"] == "get_weather"
    assert messages[2] == {"role": "tool", "content": TOOL_RESULT, "tool_call_id": call_id}


# ------------------------------------------------------------------------------------------ tool round trips


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_tool_round_trip_sending_the_whole_conversation(
    client: openai.OpenAI, upstream: Upstream, model: str, stream: bool
) -> None:
    first = create(client, stream=stream, model=model, input=QUESTION, tools=[WEATHER])

    call = function_call(first)
    assert json.loads(call["arguments"]) == expected_arguments(model)
    assert first["status"] == "completed"
    assert first["tools"] == [WEATHER]
    assert first["usage"]["total_tokens"] > 0

    second = create(
        client,
        stream=stream,
        model=model,
        tools=[WEATHER],
        input=[
            {"role": "user", "content": QUESTION},
            *first["output"],
            {"type": "function_call_output", "call_id": call["call_id"], "output": TOOL_RESULT},
        ],
    )

    assert TOOL_RESULT in answer_text(second)
    assert second["id"] != first["id"]
    assert_upstream_saw_round_trip(upstream, model, call["call_id"])


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_tool_round_trip_with_previous_response_id(
    client: openai.OpenAI, upstream: Upstream, model: str, stream: bool
) -> None:
    first = create(client, stream=stream, model=model, input=QUESTION, tools=[WEATHER])
    call = function_call(first)

    second = create(
        client,
        stream=stream,
        model=model,
        tools=[WEATHER],
        previous_response_id=first["id"],
        input=[{"type": "function_call_output", "call_id": call["call_id"], "output": TOOL_RESULT}],
    )

    assert TOOL_RESULT in answer_text(second)
    assert second["previous_response_id"] == first["id"]
    assert_upstream_saw_round_trip(upstream, model, call["call_id"])
    stored = client.responses.retrieve(second["id"]).to_dict(mode="json")
    assert_valid(stored, "Response")
    assert stored == second


def test_stream_helper_assembles_the_answer(client: openai.OpenAI) -> None:
    """The SDK's `responses.stream()` checks that items are added, filled and done consistently."""
    with client.responses.stream(
        model="mock/parallel",
        input="Weather in 'Lyon'?",
        tools=[WEATHER],  # type: ignore[list-item]
    ) as stream:
        types = [event.type for event in stream]
        final = stream.get_final_response()

    assert types[0] == "response.created"
    assert types[-1] == "response.completed"
    calls = [item for item in final.output if item.type == "function_call"]
    assert [call.name for call in calls] == ["get_weather", "get_weather"]
    assert len({call.call_id for call in calls}) == 2
    assert [json.loads(call.arguments) for call in calls] == [{"location": "Lyon"}] * 2


@tool
def get_weather(location: str) -> str:
    """Current weather at a location."""
    return f"It is sunny in {location}."


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_langchain_agent_loop_over_the_responses_api(router: RouterProcess, model: str, stream: bool) -> None:
    """LangChain's ChatOpenAI with `use_responses_api`: it replays each answer's output items verbatim."""
    llm = ChatOpenAI(
        base_url=router.base_url,
        api_key="unused",
        model=model,
        use_responses_api=True,
        max_retries=0,
    ).bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage(QUESTION)]
    for _ in range(3):
        reply: AIMessage | AIMessageChunk | None = None
        if stream:
            for chunk in llm.stream(messages):
                reply = chunk if reply is None else reply + chunk  # type: ignore[assignment]
        else:
            reply = llm.invoke(messages)
        assert reply is not None
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            result = get_weather.invoke(call)
            assert isinstance(result, ToolMessage)
            messages.append(result)

    call_turn, tool_result, answer = messages[1:]
    assert isinstance(call_turn, AIMessage)
    (call,) = call_turn.tool_calls
    assert call["args"] == expected_arguments(model)
    assert isinstance(tool_result, ToolMessage)
    assert tool_result.tool_call_id == call["id"]
    assert isinstance(answer, AIMessage)
    assert f"It is sunny in {call['args']['location']}." in answer.text


# ---------------------------------------------------------------------------------------- reasoning and usage


@pytest.mark.parametrize("dialect", ["openrouter", "deepseek"])
def test_reasoning_comes_out_as_an_item_and_goes_back_upstream(
    client: openai.OpenAI, upstream: Upstream, dialect: str
) -> None:
    first = create(client, stream=True, model=f"{dialect}/reasoning", input=QUESTION, tools=[WEATHER])

    assert [item["type"] for item in first["output"]] == ["reasoning", "function_call"]
    (reasoning_text,) = first["output"][0]["content"]
    assert reasoning_text == {"type": "reasoning_text", "text": "The user wants the weather."}
    call = function_call(first)

    create(
        client,
        stream=False,
        model=f"{dialect}/reasoning",
        tools=[WEATHER],
        previous_response_id=first["id"],
        input=[{"type": "function_call_output", "call_id": call["call_id"], "output": TOOL_RESULT}],
    )

    assistant = upstream.last(dialect).body["messages"][1]
    # DeepSeek's thinking mode needs its reasoning back after a tool call; OpenRouter names it `reasoning`.
    key = "reasoning" if dialect == "openrouter" else "reasoning_content"
    assert assistant[key] == "The user wants the weather."


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_usage_in_the_responses_api_names(client: openai.OpenAI, stream: bool) -> None:
    response = create(client, stream=stream, model="deepseek/text", input="Hi")

    assert response["usage"] == {
        "input_tokens": 306,
        "input_tokens_details": {"cached_tokens": 256, "cache_write_tokens": 0},
        "output_tokens": 85,
        "output_tokens_details": {"reasoning_tokens": 31},
        "total_tokens": 391,
    }
    assert answer_text(response).strip() == "Hello from the scripted upstream."


def test_instructions_and_json_schema_output(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temperature": {"type": "number"}},
        "required": ["city", "temperature"],
        "additionalProperties": False,
    }

    response = create(
        client,
        stream=False,
        model="mock/text",
        instructions="Answer in JSON.",
        input="Weather in 'Lyon', 21 degrees?",
        text={"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}},
    )

    assert json.loads(answer_text(response)) == {"city": "Lyon", "temperature": 21}
    assert response["instructions"] == "Answer in JSON."
    assert response["text"]["format"]["name"] == "weather"


# ----------------------------------------------------------------------------------------- stored responses


def test_unknown_previous_response_id_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="mock/text", input="Hi", previous_response_id="resp_unknown")

    assert raised.value.param == "previous_response_id"
    assert raised.value.code == "previous_response_not_found"


def test_a_response_not_stored_cannot_be_continued_or_retrieved(client: openai.OpenAI) -> None:
    response = client.responses.create(model="mock/text", input="Hi", store=False)

    assert response.to_dict()["store"] is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="mock/text", input="Again", previous_response_id=response.id)
    assert raised.value.param == "previous_response_id"


def test_delete_forgets_a_response(client: openai.OpenAI) -> None:
    response = client.responses.create(model="mock/text", input="Hi")

    client.responses.delete(response.id)

    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


# ------------------------------------------------------------------------------------------------- failures


def test_builtin_tools_are_refused_with_the_param_named(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="mock/tool", input="Search", tools=[{"type": "web_search"}])

    assert raised.value.param == "tools[0].type"
    assert "web_search" in raised.value.message


@pytest.mark.parametrize("model", ["openrouter/rate-limited", "mock/rate-limited"])
def test_failure_before_the_stream_starts_is_an_http_error(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model=model, input="Hi", stream=True)


@pytest.mark.parametrize("model", ["mock/stream-error", "openrouter/mid-stream-error", "deepseek/mid-stream-error"])
def test_failure_mid_stream_makes_the_sdk_raise(client: openai.OpenAI, model: str) -> None:
    received: list[dict[str, Any]] = []
    with (
        pytest.raises(openai.APIError) as raised,
        client.responses.create(model=model, input="one two three four five six", stream=True) as events,
    ):
        received.extend(event.to_dict(mode="json") for event in events)

    assert raised.value.message
    types = [event["type"] for event in received]
    assert types[-1] == "response.failed"
    assert "response.completed" not in types
    assert received[-1]["response"]["error"]["code"] == "server_error"


def test_raw_stream_framing_and_numbering(router: RouterProcess) -> None:
    """The bytes on the wire: `event:` and `data:` lines as OpenAI sends them, numbered from 0."""
    body = {"model": "deepseek/parallel", "input": QUESTION, "tools": [WEATHER], "stream": True}
    with httpx.stream("POST", f"{router.base_url}/responses", json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-llm-router-target"] == "deepseek/parallel"
        text = response.read().decode()

    final = assert_event_stream(parse_response_sse(text))

    calls = [item for item in final["output"] if item["type"] == "function_call"]
    assert [call["name"] for call in calls] == ["get_weather", "get_weather"]


def test_raw_failed_stream_ends_with_response_failed_and_error(router: RouterProcess) -> None:
    body = {"model": "openrouter/mid-stream-error", "input": "Hi", "stream": True}
    with httpx.stream("POST", f"{router.base_url}/responses", json=body, timeout=30) as response:
        text = response.read().decode()

    events = parse_response_sse(text)
    assert_event_stream(events, failed=True)
    assert events[-1]["error"]["type"] == "server_error"
