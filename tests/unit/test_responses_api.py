"""The Responses API over HTTP, in-process: answers, streams, stored responses, and errors in OpenAI's envelope."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.openapi import assert_valid
from tests.support.responses import assert_event_stream, parse_response_sse

from .support import OPENROUTER_CHAT, assert_error, chunk, json_response, sent_json, sse, streamed

if TYPE_CHECKING:
    import httpx
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
    "strict": False,
}
NO_RETRY = {"x-llm-router-max-attempts": "1"}


def response_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert_valid(body, "Response")
    return body


def events_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_response_sse(response.text)


def openrouter_completion(message: dict[str, Any], finish_reason: str = "stop") -> httpx.Response:
    body = {
        "id": "gen-1",
        "object": "chat.completion",
        "created": 1,
        "model": "some/model",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    return json_response(json.dumps(body).encode())


# -------------------------------------------------------------------------------------------------- answers


async def test_a_tool_round_trip_through_the_mock(client: Client) -> None:
    first = response_of(
        await client.post("/v1/responses", json={"model": "mock/tool", "input": "In 'Lyon'?", "tools": [TOOL]})
    )
    (call,) = first["output"]
    assert (call["type"], call["name"], json.loads(call["arguments"])) == (
        "function_call",
        "get_weather",
        {"location": "Lyon"},
    )

    second = response_of(
        await client.post(
            "/v1/responses",
            json={
                "model": "mock/tool",
                "tools": [TOOL],
                "input": [
                    {"role": "user", "content": "In 'Lyon'?"},
                    call,
                    {"type": "function_call_output", "call_id": call["call_id"], "output": "Sunny"},
                ],
            },
        )
    )
    assert second["output"][0]["content"][0]["text"] == "The tool returned: Sunny"


async def test_answers_carry_the_routing_headers(client: Client) -> None:
    response = await client.post("/v1/responses", json={"model": "mock/text", "input": "Hi"})

    response_of(response)
    assert response.headers["x-llm-router-target"] == "mock/text"
    assert response.headers["x-llm-router-attempts"] == "1"


async def test_a_stream(client: Client) -> None:
    response = await client.post("/v1/responses", json={"model": "mock/text", "input": "Hi", "stream": True})

    final = assert_event_stream(events_of(response))
    assert response.headers["x-llm-router-target"] == "mock/text"
    assert response.headers["cache-control"] == "no-cache"
    assert final["output"][0]["content"][0]["text"] == "Hello from the llm-router mock provider. You said: Hi"
    assert final["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True])
async def test_the_response_echoes_what_n8n_sends(client: Client, stream: bool) -> None:
    echoed = {"service_tier": "auto", "prompt_cache_key": "n8n-1", "safety_identifier": "user-7", "top_logprobs": 0}
    response = await client.post(
        "/v1/responses", json={"model": "mock/text", "input": "Hi", "stream": stream, **echoed}
    )

    final = assert_event_stream(events_of(response)) if stream else response_of(response)
    assert {name: final[name] for name in echoed} == echoed


async def test_what_the_upstream_receives(client: Client, upstream: respx.MockRouter) -> None:
    route = upstream.post(OPENROUTER_CHAT).mock(return_value=openrouter_completion({"content": "Hi!"}))

    response_of(
        await client.post(
            "/v1/responses",
            json={
                "model": "openrouter/some/model",
                "instructions": "Be brief.",
                "input": "Hi",
                "max_output_tokens": 20,
                "store": False,
                "metadata": {"k": "v"},
            },
        )
    )

    sent = sent_json(route)
    assert sent["model"] == "some/model"
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert sent["max_completion_tokens"] == 20
    assert "store" not in sent
    assert "metadata" not in sent


async def test_a_streamed_upstream_answer(client: Client, upstream: respx.MockRouter) -> None:
    body = sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}, "stop"),
        chunk(choices=[], usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}),
    )
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(body, sizes=(7,)))

    response = await client.post(
        "/v1/responses", json={"model": "openrouter/some/model", "input": "Hi", "stream": True}
    )

    final = assert_event_stream(events_of(response))
    assert final["output"][0]["content"][0]["text"] == "Hello"
    assert final["usage"]["total_tokens"] == 5


# ---------------------------------------------------------------------------------------- stored responses


async def test_previous_response_id_continues_the_conversation(client: Client, upstream: respx.MockRouter) -> None:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]
    route = upstream.post(OPENROUTER_CHAT).mock(
        side_effect=[
            openrouter_completion({"content": None, "tool_calls": calls}, "tool_calls"),
            openrouter_completion({"content": "Sunny, then."}),
        ]
    )
    first = response_of(
        await client.post(
            "/v1/responses",
            json={
                "model": "openrouter/m",
                "instructions": "Old rules.",
                "input": "Weather?",
                "tools": [TOOL],
            },
        )
    )

    second = response_of(
        await client.post(
            "/v1/responses",
            json={
                "model": "openrouter/m",
                "previous_response_id": first["id"],
                "instructions": "New rules.",
                "tools": [TOOL],
                "input": [{"type": "function_call_output", "call_id": "call_1", "output": "Sunny"}],
            },
        )
    )

    assert second["previous_response_id"] == first["id"]
    assert sent_json(route)["messages"] == [
        {"role": "system", "content": "New rules."},  # instructions do not carry over
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "content": "Sunny", "tool_call_id": "call_1"},
    ]


async def test_a_chain_of_stored_responses(client: Client) -> None:
    """Each stored response holds its whole conversation, so a chain continues from any link."""
    previous: str | None = None
    for turn in range(3):
        request: dict[str, Any] = {"model": "mock/text", "input": f"Turn {turn}"}
        if previous:
            request["previous_response_id"] = previous
        previous = response_of(await client.post("/v1/responses", json=request))["id"]

    stored = await client.get(f"/v1/responses/{previous}")

    assert response_of(stored)["output"][0]["content"][0]["text"].endswith("You said: Turn 2")


async def test_a_streamed_response_is_stored_once_complete(client: Client) -> None:
    events = events_of(await client.post("/v1/responses", json={"model": "mock/text", "input": "Hi", "stream": True}))
    final = assert_event_stream(events)

    assert response_of(await client.get(f"/v1/responses/{final['id']}")) == final


async def test_unknown_previous_response_id(client: Client) -> None:
    response = await client.post(
        "/v1/responses", json={"model": "mock/text", "input": "Hi", "previous_response_id": "resp_nope"}
    )

    error = assert_error(response, 400, code="previous_response_not_found", type_="invalid_request_error")
    assert error["param"] == "previous_response_id"
    assert "resp_nope" in error["message"]


async def test_store_false_is_not_kept(client: Client) -> None:
    body = response_of(await client.post("/v1/responses", json={"model": "mock/text", "input": "Hi", "store": False}))

    assert body["store"] is False
    assert_error(await client.get(f"/v1/responses/{body['id']}"), 404, code="not_found")
    continued = await client.post(
        "/v1/responses", json={"model": "mock/text", "input": "Hi", "previous_response_id": body["id"]}
    )
    assert_error(continued, 400, code="previous_response_not_found")


async def test_retrieve_and_delete(client: Client) -> None:
    body = response_of(await client.post("/v1/responses", json={"model": "mock/text", "input": "Hi"}))

    assert response_of(await client.get(f"/v1/responses/{body['id']}")) == body
    deleted = await client.delete(f"/v1/responses/{body['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": body["id"], "object": "response.deleted", "deleted": True}
    assert_error(await client.get(f"/v1/responses/{body['id']}"), 404)
    assert_error(await client.delete(f"/v1/responses/{body['id']}"), 404)


# --------------------------------------------------------------------------------------------------- errors


async def test_a_failure_before_the_stream_is_a_plain_http_error(client: Client) -> None:
    response = await client.post(
        "/v1/responses", json={"model": "mock/rate-limited", "input": "Hi", "stream": True}, headers=NO_RETRY
    )

    assert_error(response, 429, type_="rate_limit_error")


async def test_an_upstream_rejection_is_passed_on(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(OPENROUTER_CHAT).mock(
        return_value=json_response(b'{"error": {"code": 400, "message": "Bad tool schema."}}', status=400)
    )

    response = await client.post("/v1/responses", json={"model": "openrouter/m", "input": "Hi"}, headers=NO_RETRY)

    assert "Bad tool schema." in assert_error(response, 400)["message"]


async def test_a_failure_mid_stream_ends_with_response_failed_and_error(client: Client) -> None:
    response = await client.post(
        "/v1/responses", json={"model": "mock/stream-error", "input": "one two three four", "stream": True}
    )

    events = events_of(response)
    final = assert_event_stream(events, failed=True)
    assert final["error"]["code"] == "server_error"
    assert final["output"][0]["status"] == "incomplete"
    assert events[-1]["error"]["message"] == "The mock upstream failed mid-stream (stream-error)."


async def test_an_unknown_model(client: Client) -> None:
    response = await client.post("/v1/responses", json={"model": "nowhere/model", "input": "Hi"})

    assert assert_error(response, 404, code="model_not_found")["param"] == "model"


async def test_per_request_routing_headers_are_checked(client: Client) -> None:
    response = await client.post(
        "/v1/responses",
        json={"model": "mock/text", "input": "Hi"},
        headers={"x-llm-router-timeout": "soon"},
    )

    assert assert_error(response, 400)["param"] == "x-llm-router-timeout"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'"input"',
        b"{",
        b'{"model": 1, "input": "Hi"}',
        b'{"model": "mock/text", "input": [1]}',
        b'{"model": "mock/text", "input": [{"type": "message"}]}',
        b'{"model": "mock/text", "input": [{"role": "user", "content": [{"type": "input_text"}]}]}',
        b'{"model": "mock/text", "input": [{"role": "user", "content": [{"type": "audio"}]}]}',
        b'{"model": "mock/text", "input": [{"type": null, "id": "msg_1"}]}',
        b'{"model": "mock/text", "input": "Hi", "tools": "all"}',
        b'{"model": "mock/text", "input": "Hi", "tools": [null]}',
        b'{"model": "mock/text", "input": "Hi", "tools": [{"type": "function", "name": "f", "parameters": 3}]}',
        b'{"model": "mock/text", "input": "Hi", "tool_choice": 5}',
        b'{"model": "mock/text", "input": "Hi", "tool_choice": {"type": "allowed_tools", "mode": "x", "tools": []}}',
        b'{"model": "mock/text", "input": "Hi", "metadata": {"a": 1}}',
        b'{"model": "mock/text", "input": "Hi", "text": {"format": null}}',
        b'{"model": "mock/text", "input": "Hi", "text": {"verbosity": "loud"}}',
        b'{"model": "mock/text", "input": "Hi", "reasoning": {"effort": "extreme"}}',
        b'{"model": "mock/text", "input": "Hi", "stream": "yes"}',
        b'{"model": "mock/text", "input": [{"type": "reasoning", "summary": "x"}]}',
        b'{"model": "mock/text", "input": [{"type": "function_call", "call_id": "c", "name": "f"}]}',
        b'{"model": "mock/te\\nxt", "input": "Hi"}',
        b'{"model": "mock/\\u2713", "input": "Hi"}',
        b'{"model": "mock/text", "input": "Hi", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
async def test_bad_input_is_a_400_never_a_500(client: Client, body: bytes) -> None:
    response = await client.post("/v1/responses", content=body, headers={"content-type": "application/json"})

    assert_error(response, 400, type_="invalid_request_error")
