"""The unit conformance suite: every provider dialect, through the app, from its own captured wire examples.

Each test runs once per entry of `tests.unit.dialects.DIALECTS` (OpenRouter, DeepSeek, Anthropic, and a server
defined only in the configuration file), with respx playing the upstream. Whatever the dialect, a client gets
exact OpenAI answers, chunks and errors; what is particular to one provider is tested in its own file.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.openapi import assert_valid

from .dialects import DIALECTS, Answer, UnitDialect
from .support import (
    USER_HI,
    assembled_calls,
    assert_error,
    assert_stream_error,
    completion_of,
    deltas,
    finish_reasons,
    json_response,
    parse_sse,
    roles,
    sent_json,
    stream_of,
    streamed,
    text_of,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import httpx
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]
    MakeClient = Callable[..., contextlib.AbstractAsyncContextManager[Client]]

BY_NAME = [pytest.param(dialect, id=dialect.name) for dialect in DIALECTS]
STREAMS = [
    pytest.param(dialect, answer, id=f"{dialect.name}-{answer.name}")
    for dialect in DIALECTS
    for answer in dialect.streams
]
CONTEXT_TOO_LONG = [pytest.param(dialect, id=dialect.name) for dialect in DIALECTS if "context" in dialect.failures]
NO_ARGUMENTS = [pytest.param(dialect, id=dialect.name) for dialect in DIALECTS if dialect.noargs is not None]


@contextlib.asynccontextmanager
async def app_for(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, dialect: UnitDialect, **settings: Any
) -> AsyncIterator[Client]:
    """The app with `dialect`'s provider configured (and the mock), from its table and environment."""
    for name, value in dialect.env.items():
        monkeypatch.setenv(name, value)
    async with make_client(providers={dialect.name: dialect.table}, **settings) as client:
        yield client


async def post(client: Client, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/chat/completions", json=body)


def message_of(answer: Answer) -> dict[str, Any]:
    """The assistant message a client must get for a whole answer."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
    if answer.calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in answer.calls
        ]
    if answer.reasoning:
        message["reasoning_content"] = answer.reasoning
    if answer.reasoning_details:
        message["reasoning_details"] = list(answer.reasoning_details)
    return {**message, **answer.message}


# ---------------------------------------------------------------------------------------------- requests


@pytest.mark.parametrize("dialect", BY_NAME)
async def test_request_reaches_the_upstream_with_its_key_and_the_unprefixed_model(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, upstream: respx.MockRouter, dialect: UnitDialect
) -> None:
    route = upstream.post(dialect.chat_url).mock(return_value=json_response(dialect.text.body))

    async with app_for(make_client, monkeypatch, dialect) as client:
        response = await post(client, {"model": dialect.model, "messages": USER_HI, "temperature": 0.2})

    body = completion_of(response)
    assert body["choices"][0]["message"]["content"] == dialect.text.text
    assert route.call_count == 1
    request = route.calls.last.request
    assert str(request.url) == dialect.chat_url
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert dialect.key_of(request) == dialect.key
    assert "http-referer" not in request.headers  # attribution only where configured
    assert "x-title" not in request.headers
    assert sent_json(route) == dialect.simple_body
    assert response.headers["x-llm-router-target"] == dialect.model


# ------------------------------------------------------------------------------------------ whole answers


@pytest.mark.parametrize("dialect", BY_NAME)
@pytest.mark.parametrize("kind", ["text", "tools"])
async def test_a_captured_answer_becomes_an_exact_completion(
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    upstream: respx.MockRouter,
    dialect: UnitDialect,
    kind: str,
) -> None:
    answer: Answer = getattr(dialect, kind)
    upstream.post(dialect.chat_url).mock(return_value=json_response(answer.body))

    async with app_for(make_client, monkeypatch, dialect) as client:
        response = await post(client, {"model": dialect.model, "messages": USER_HI})

    body = completion_of(response)
    (choice,) = body["choices"]
    assert choice["message"] == message_of(answer)  # tool-call ids kept, `content: null` beside calls
    assert choice["finish_reason"] == answer.finish
    assert choice["logprobs"] is None
    assert body.get("usage") == answer.usage


@pytest.mark.parametrize("dialect", NO_ARGUMENTS)
async def test_a_call_without_arguments_gets_an_empty_object(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, upstream: respx.MockRouter, dialect: UnitDialect
) -> None:
    assert dialect.noargs is not None
    upstream.post(dialect.chat_url).mock(return_value=json_response(dialect.noargs.body))

    async with app_for(make_client, monkeypatch, dialect) as client:
        response = await post(client, {"model": dialect.model, "messages": USER_HI})

    assert completion_of(response)["choices"][0]["message"] == message_of(dialect.noargs)


# ----------------------------------------------------------------------------------------------- streams


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize(("dialect", "answer"), STREAMS)
async def test_a_captured_stream_becomes_exact_openai_chunks(
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    upstream: respx.MockRouter,
    dialect: UnitDialect,
    answer: Answer,
    include_usage: bool,
) -> None:
    route = upstream.post(dialect.chat_url).mock(side_effect=streamed(answer.body))
    request: dict[str, Any] = {"model": dialect.model, "messages": USER_HI, "stream": True}
    if include_usage:
        request["stream_options"] = {"include_usage": True}

    async with app_for(make_client, monkeypatch, dialect) as client:
        response = await post(client, request)

    chunks = stream_of(response)
    assert roles(chunks) == ["assistant"]
    assert "role" in chunks[0]["choices"][0]["delta"]
    assert text_of(chunks) == (answer.text or "")
    if answer.text is None:
        assert all(delta.get("content") is None for delta in deltas(chunks))
    assert text_of(chunks, "reasoning_content") == answer.reasoning
    details = [detail for delta in deltas(chunks) for detail in delta.get("reasoning_details", ())]
    assert details == list(answer.reasoning_details)
    calls = [
        {"id": call_id, "type": "function", "name": name, "arguments": args} for call_id, name, args in answer.calls
    ]
    assert assembled_calls(chunks) == calls  # on distinct indexes, ids kept, each id and name once
    assert finish_reasons(chunks) == [answer.finish]
    if answer.id:
        assert {chunk["id"] for chunk in chunks} == {answer.id}
    for text in answer.absent:
        assert text not in response.text
    finish_chunk = next(chunk for chunk in chunks if finish_reasons([chunk]))
    assert "usage" not in finish_chunk  # usage comes, if asked, in a chunk of its own with no choices, last
    with_usage = [chunk for chunk in chunks if "usage" in chunk]
    if include_usage and answer.usage is not None:
        assert with_usage == [chunks[-1]]
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"] == answer.usage
    else:
        assert with_usage == []
    sent = sent_json(route)
    assert {key: sent.get(key) for key in dialect.stream_request} == dialect.stream_request


@pytest.mark.parametrize("dialect", BY_NAME)
async def test_a_failure_mid_stream_is_an_error_event_after_what_came_before(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, upstream: respx.MockRouter, dialect: UnitDialect
) -> None:
    upstream.post(dialect.chat_url).mock(side_effect=streamed(dialect.mid_stream.body))

    async with app_for(make_client, monkeypatch, dialect) as client:
        response = await post(client, {"model": dialect.model, "messages": USER_HI, "stream": True})

    assert response.status_code == 200
    error = assert_stream_error(response.text)  # and no [DONE]: the SDKs raise it
    kind, said = dialect.mid_stream_error
    assert error["type"] == kind
    assert said in error["message"]
    before = parse_sse(response.text)[:-1]
    assert text_of(before) == dialect.mid_stream.text
    assert finish_reasons(before) == []


# ------------------------------------------------------------------------------------------------ errors

# What each kind of upstream failure is for a client: status, type and code (None: not checked).
EXPECTED = {
    "invalid": (400, "invalid_request_error", None),
    "rate_limited": (429, "rate_limit_error", None),
    "payment": (503, None, "upstream_payment_required"),
    "server": (502, "server_error", None),
    "overloaded": (503, "server_error", None),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("dialect", BY_NAME)
async def test_upstream_errors_keep_their_meaning(
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    upstream: respx.MockRouter,
    dialect: UnitDialect,
    kind: str,
    stream: bool,
) -> None:
    failure = dialect.failures[kind]
    headers = {"retry-after": "7"} if kind == "rate_limited" else {}
    upstream.post(dialect.chat_url).mock(return_value=json_response(failure.body, failure.status, **headers))

    async with app_for(make_client, monkeypatch, dialect) as client:
        response = await post(client, {"model": dialect.model, "messages": USER_HI, "stream": stream})

    status, type_, code = EXPECTED[kind]
    error = assert_error(response, status, code=code, type_=type_)  # a plain HTTP error, even for a stream
    assert failure.said in error["message"]
    assert dialect.name in error["message"]
    assert response.headers.get("retry-after") == headers.get("retry-after")
    assert response.headers.get("x-should-retry") == ("false" if kind == "payment" else None)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("dialect", BY_NAME)
async def test_the_routers_own_key_refused_is_a_502_naming_the_provider_and_its_variable(
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    upstream: respx.MockRouter,
    dialect: UnitDialect,
    stream: bool,
) -> None:
    upstream.post(dialect.chat_url).mock(return_value=json_response(dialect.bad_key.body, dialect.bad_key.status))

    async with app_for(make_client, monkeypatch, dialect) as client:
        response = await post(client, {"model": dialect.model, "messages": USER_HI, "stream": stream})

    error = assert_error(response, 502, code="upstream_authentication_failed", type_="server_error")
    assert dialect.name in error["message"]
    assert dialect.key_env in error["message"]
    assert dialect.bad_key.said in error["message"]
    assert dialect.key not in response.text
    assert response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("dialect", CONTEXT_TOO_LONG)
async def test_a_context_too_long_moves_on_to_the_next_target(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, upstream: respx.MockRouter, dialect: UnitDialect
) -> None:
    failure = dialect.failures["context"]
    route = upstream.post(dialect.chat_url).mock(return_value=json_response(failure.body, failure.status))
    upstream.get(url__startswith=dialect.models_url).mock(return_value=json_response(dialect.models))
    alias = {"long": {"targets": [dialect.model, "mock/text"]}}

    async with app_for(make_client, monkeypatch, dialect, models=alias) as client:
        response = await post(client, {"model": "long", "messages": USER_HI})

    assert response.status_code == 200, response.text
    assert response.headers["x-llm-router-target"] == "mock/text"
    assert route.call_count == 1  # not retried: another attempt here cannot help


# ------------------------------------------------------------------------------------------------ models


@pytest.mark.parametrize("dialect", BY_NAME)
async def test_models_are_listed_under_the_provider_prefix(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, upstream: respx.MockRouter, dialect: UnitDialect
) -> None:
    route = upstream.get(url__startswith=dialect.models_url).mock(return_value=json_response(dialect.models))

    async with app_for(make_client, monkeypatch, dialect) as client:
        response = await client.get("/v1/models")

    assert response.status_code == 200
    listed = [model for model in response.json()["data"] if model["id"].startswith(f"{dialect.name}/")]
    assert [model["id"] for model in listed] == [f"{dialect.name}/{model_id}" for model_id in dialect.model_ids]
    for model in listed:
        assert model["owned_by"] == (dialect.owned_by or dialect.name)
        assert set(model) == {"id", "object", "created", "owned_by"}
        assert_valid(model, "Model")
    assert dialect.key_of(route.calls.last.request) == dialect.key
