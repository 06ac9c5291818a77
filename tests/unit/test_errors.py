"""Errors a client can get: bad input, unknown models, unconfigured providers, broken upstreams, no leaked key."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from .support import (
    DEEPSEEK_CHAT,
    OPENROUTER_CHAT,
    USER_HI,
    assert_error,
    assert_stream_error,
    chunk,
    json_response,
    sse,
    streamed,
)
from .wire_examples import DEEPSEEK_KEY, OPENROUTER_KEY, openai_invalid_key

if TYPE_CHECKING:
    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]

OPENROUTER_MODEL = "openrouter/meta-llama/llama-3.3-70b-instruct:free"
DEEPSEEK_MODEL = "deepseek/deepseek-v4-flash"


def body(**fields: Any) -> bytes:
    return json.dumps({"model": "mock/text", "messages": USER_HI, **fields}).encode()


async def post(client: Client, content: bytes, **headers: str) -> httpx.Response:
    return await client.post(
        "/v1/chat/completions", content=content, headers={"content-type": "application/json", **headers}
    )


# ---------------------------------------------------------------------------------------------- bad input

BAD_INPUT = [
    pytest.param(b'{"model": "mock/text", "messages": [', None, "invalid_json", id="invalid-json"),
    pytest.param(b"", None, "invalid_json", id="empty-body"),
    pytest.param(b"\xff\xfe{}", None, "invalid_json", id="not-utf8"),
    pytest.param(b"[]", None, None, id="not-an-object"),
    pytest.param(b'{"messages": [{"role": "user", "content": "x"}]}', "model", None, id="missing-model"),
    pytest.param(b'{"model": "mock/text"}', "messages", None, id="missing-messages"),
    pytest.param(body(messages=[]), "messages", None, id="empty-messages"),
    pytest.param(body(messages="Hi"), "messages", None, id="messages-not-a-list"),
    pytest.param(body(messages={"role": "user", "content": "Hi"}), "messages", None, id="messages-an-object"),
    pytest.param(body(messages=[{"role": "robot", "content": "x"}]), "messages[0].role", None, id="unknown-role"),
    pytest.param(body(messages=[{"content": "x"}]), "messages[0].role", None, id="missing-role"),
    pytest.param(body(messages=[{"role": "user"}]), "messages[0].content", None, id="user-without-content"),
    pytest.param(
        body(tools=[{"type": "function", "function": {"parameters": {"type": "object"}}}]),
        "tools[0].function.name",
        None,
        id="tool-without-name",
    ),
    pytest.param(
        body(tools=[{"type": "function", "function": {"name": "get weather"}}]),
        "tools[0].function.name",
        None,
        id="tool-name-with-space",
    ),
    pytest.param(
        body(tools=[{"type": "function", "function": {"name": "f" * 65}}]),
        "tools[0].function.name",
        None,
        id="tool-name-too-long",
    ),
    pytest.param(
        body(messages=[{"role": "user", "content": "x"}, {"role": "tool", "content": "42"}]),
        "messages[1].tool_call_id",
        None,
        id="tool-message-without-tool-call-id",
    ),
    pytest.param(body(temperature=5), "temperature", None, id="temperature-5"),
    pytest.param(body(temperature=-0.1), "temperature", None, id="temperature-negative"),
    pytest.param(body(top_p=1.5), "top_p", None, id="top-p"),
    pytest.param(body(n=0), "n", None, id="n-0"),
    pytest.param(body(n=129), "n", None, id="n-129"),
    pytest.param(body(max_tokens=0), "max_tokens", None, id="max-tokens-0"),
    pytest.param(body(stop=["a", "b", "c", "d", "e"]), "stop", None, id="five-stops"),
    pytest.param(body(stream="yes"), "stream", None, id="stream-not-bool"),
    pytest.param(body(tool_choice="sometimes"), "tool_choice", None, id="tool-choice"),
    pytest.param(
        body(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
        "response_format.json_schema.name",
        None,
        id="json-schema-without-name",
    ),
    # Model names end up in logs and response headers: nothing a provider could not name a model with.
    pytest.param(body(model="mock/te\nxt"), "model", "invalid_value", id="model-with-newline"),
    pytest.param(body(model="mock/te\rxt"), "model", "invalid_value", id="model-with-carriage-return"),
    pytest.param(body(model="mock/te\u0000xt"), "model", "invalid_value", id="model-with-nul"),
    pytest.param(body(model="mock/\u2713"), "model", "invalid_value", id="model-not-ascii"),
    pytest.param(body(model="mock/te xt"), "model", "invalid_value", id="model-with-space"),
    pytest.param(body(model="mock/" + "x" * 300), "model", "invalid_value", id="model-too-long"),
    pytest.param(body(models=["mock/text", "mock/\n"]), "models[1]", "invalid_value", id="fallback-with-newline"),
    pytest.param(
        b'{"model": "mock/text", "messages": [{"role": "user", "content": "x"}], "x": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
        None,
        "invalid_json",
        id="unknown-field-nested-too-deep",
    ),
    pytest.param(
        b'{"model": "mock/text", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", '
        b'"function": {"name": "f", "parameters": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}}]}",
        None,
        "invalid_json",
        id="tool-schema-nested-too-deep",
    ),
]


@pytest.mark.parametrize(("content", "param", "code"), BAD_INPUT)
async def test_bad_input_is_a_400_naming_the_field(
    client: Client, upstream: respx.MockRouter, content: bytes, param: str | None, code: str | None
) -> None:
    response = await post(client, content)

    error = assert_error(response, 400, code=code, type_="invalid_request_error")
    assert error["param"] == param
    if param:
        assert param in error["message"]
    assert not upstream.calls


@pytest.mark.parametrize("stream", [False, True])
async def test_oversized_body_is_a_413(make_client: Any, upstream: respx.MockRouter, stream: bool) -> None:
    content = body(messages=[{"role": "user", "content": "x" * 3000}], stream=stream)
    async with make_client(max_request_bytes=2048) as client:
        response = await post(client, content)
        small = await post(client, body(messages=[{"role": "user", "content": "x" * 1500}]))

    error = assert_error(response, 413, code="request_too_large", type_="invalid_request_error")
    assert "max_request_bytes" in error["message"]
    assert small.status_code == 200
    assert not upstream.calls


async def test_unknown_url_and_method(client: Client) -> None:
    missing = await client.get("/v1/nothing")
    wrong_method = await client.get("/v1/chat/completions")

    assert_error(missing, 404, code="not_found")
    assert_error(wrong_method, 405, code="method_not_allowed")


# ------------------------------------------------------------------------------------------------ routing


@pytest.mark.parametrize("model", ["nope/some-model", "gpt-4o", "openrouter", "openrouter/", "/x", "Mock/text"])
async def test_unknown_provider_is_model_not_found(client: Client, upstream: respx.MockRouter, model: str) -> None:
    response = await post(client, body(model=model))

    error = assert_error(response, 404, code="model_not_found", type_="invalid_request_error")
    assert error["param"] == "model"
    assert model in error["message"]
    assert "openrouter/<model id>" in error["message"]
    assert not upstream.calls


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("model", "variable", "provider"),
    [(OPENROUTER_MODEL, "OPENROUTER_API_KEY", "openrouter"), (DEEPSEEK_MODEL, "DEEPSEEK_API_KEY", "deepseek")],
)
async def test_provider_without_key_names_its_variable(
    make_client: Any, upstream: respx.MockRouter, stream: bool, model: str, variable: str, provider: str
) -> None:
    async with make_client(providers={}) as client:
        response = await post(client, body(model=model, stream=stream))

    error = assert_error(response, 503, code="provider_not_configured")
    assert variable in error["message"]
    assert f"[providers.{provider}]" in error["message"]
    assert response.headers["x-should-retry"] == "false"
    assert not upstream.calls


async def test_unconfigured_provider_is_not_listed(make_client: Any, upstream: respx.MockRouter) -> None:
    async with make_client(providers={}) as client:
        response = await client.get("/v1/models")

    assert response.status_code == 200
    ids = [m["id"] for m in response.json()["data"]]
    assert ids
    assert all(i.startswith("mock/") for i in ids)
    assert not upstream.calls


# ------------------------------------------------------------------------------------------------ transport


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [
        (httpx.ConnectError("connection refused"), 502, "upstream_connection_error"),
        (httpx.ReadTimeout("timed out"), 504, "upstream_timeout"),
        (httpx.ConnectTimeout("timed out"), 504, "upstream_timeout"),
        (httpx.PoolTimeout("timed out"), 504, "upstream_timeout"),
        (httpx.RemoteProtocolError("peer closed connection"), 502, "upstream_connection_error"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
async def test_transport_failures(
    client: Client, upstream: respx.MockRouter, stream: bool, exception: Exception, status: int, code: str
) -> None:
    upstream.post(OPENROUTER_CHAT).mock(side_effect=exception)

    response = await post(client, body(model=OPENROUTER_MODEL, stream=stream))

    error = assert_error(response, status, code=code)
    assert "openrouter" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
async def test_not_a_chat_completion_is_a_502(client: Client, upstream: respx.MockRouter, stream: bool) -> None:
    upstream.post(OPENROUTER_CHAT).mock(side_effect=streamed(b"<html>Cloudflare</html>", content_type="text/html"))

    response = await post(client, body(model=OPENROUTER_MODEL, stream=stream))

    if stream:
        # An SSE decoder sees no event at all in an HTML page: the stream ended before an answer.
        assert_error(response, 502)
    else:
        assert_error(response, 502, code="upstream_invalid_response")


async def test_non_json_error_body_is_passed_on_as_text(client: Client, upstream: respx.MockRouter) -> None:
    upstream.post(OPENROUTER_CHAT).mock(
        return_value=httpx.Response(502, content=b"<html><body>502 Bad Gateway</body></html>")
    )

    response = await post(client, body(model=OPENROUTER_MODEL))

    error = assert_error(response, 502, code="upstream_error")
    assert "502 Bad Gateway" in error["message"]


# ----------------------------------------------------------------------------------------- secret handling

LEAKS = [
    pytest.param(401, lambda key: openai_invalid_key(key), id="401-openai-quotes-key"),
    pytest.param(403, lambda key: openai_invalid_key(key), id="403-quotes-key"),
    pytest.param(400, lambda key: b'{"error":{"message":"bad key %s","code":400}}' % key.encode(), id="400"),
    pytest.param(429, lambda key: b'{"error":{"message":"key %s is limited","code":429}}' % key.encode(), id="429"),
    pytest.param(500, lambda key: b"Internal error for Bearer %s" % key.encode(), id="500-plain-text"),
    pytest.param(503, lambda key: b'{"error":{"message":"%s %s"}}' % (key.encode(), key.encode()), id="503-twice"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("status", "make_body"), LEAKS)
@pytest.mark.parametrize(
    ("model", "url", "key"),
    [(OPENROUTER_MODEL, OPENROUTER_CHAT, OPENROUTER_KEY), (DEEPSEEK_MODEL, DEEPSEEK_CHAT, DEEPSEEK_KEY)],
    ids=["openrouter", "deepseek"],
)
async def test_upstream_key_never_reaches_the_client(
    client: Client,
    upstream: respx.MockRouter,
    stream: bool,
    status: int,
    make_body: Any,
    model: str,
    url: str,
    key: str,
) -> None:
    upstream.post(url).mock(return_value=json_response(make_body(key), status))

    response = await post(client, body(model=model, stream=stream))

    assert response.status_code >= 400
    assert_error(response, response.status_code)
    assert key not in response.text
    for name, value in response.headers.items():
        assert key not in value, name


async def test_upstream_key_scrubbed_from_a_mid_stream_error(client: Client, upstream: respx.MockRouter) -> None:
    error_chunk = chunk({"content": ""}, "error", error={"code": 401, "message": f"key {OPENROUTER_KEY} revoked"})
    upstream.post(OPENROUTER_CHAT).mock(
        side_effect=streamed(sse(chunk({"role": "assistant", "content": "Hi"}), error_chunk, done=False))
    )

    response = await post(client, body(model=OPENROUTER_MODEL, stream=True))

    error = assert_stream_error(response.text)
    assert OPENROUTER_KEY not in response.text
    assert "revoked" in error["message"]


async def test_upstream_key_scrubbed_from_an_error_in_a_200_body(client: Client, upstream: respx.MockRouter) -> None:
    wire = {
        "id": "gen-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "error",
                "message": {"role": "assistant", "content": ""},
                "error": {"code": 500, "message": f"upstream refused {OPENROUTER_KEY}"},
            }
        ],
    }
    upstream.post(OPENROUTER_CHAT).mock(return_value=json_response(json.dumps(wire).encode()))

    response = await post(client, body(model=OPENROUTER_MODEL))

    assert_error(response, 502)
    assert OPENROUTER_KEY not in response.text


async def test_client_authorization_is_not_forwarded(client: Client, upstream: respx.MockRouter) -> None:
    route = upstream.post(OPENROUTER_CHAT).mock(
        return_value=json_response(
            b'{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
            b'"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}'
        )
    )

    response = await post(client, body(model=OPENROUTER_MODEL), authorization="Bearer client-own-key")

    assert response.status_code == 200
    assert route.calls.last.request.headers["authorization"] == f"Bearer {OPENROUTER_KEY}"
