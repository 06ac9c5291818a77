"""Hostile and malformed requests, generated: whatever a client sends, the router answers, never with a 500.

Hypothesis builds request bodies for both model endpoints from the classes of input that have broken
routers before: model names with control characters, non-ASCII text or the wrong type; values nested
thousands of levels deep, in fields the router reads and in fields it only passes on; tool schemas with
`$ref`s and patterns of every kind; headers with nonsense in them. The whole app answers in-process, with
the mock provider behind it. The rule is the same for every example: a 2xx, or a 4xx in OpenAI's error
envelope. A 500 means the router failed to handle a request, which is the bug.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from app.server import create_app
from app.settings import AliasSettings, RoutingSettings, Settings, TargetSettings
from providers.mock import MockProvider
from tests.support.openapi import assert_valid

if TYPE_CHECKING:
    from collections.abc import Iterator

    from litestar import Litestar

# `guarded` runs the tool-call guard over the mock's answers, against whatever schemas were generated.
SCENARIOS = ["mock/text", "mock/tool", "mock/parallel", "mock/noargs", "guarded"]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    app = create_app(
        Settings(
            routing=RoutingSettings(max_attempts=1, timeout=5),
            models={
                "guarded": AliasSettings(
                    targets=[TargetSettings(model="mock/tool"), TargetSettings(model="mock/parallel")],
                    tool_call_guard="retry",
                )
            },
        ),
        transport=httpx.MockTransport(lambda _: httpx.Response(599)),
        provider_classes={"mock": MockProvider},
    )
    with TestClient(app) as test_client:
        yield test_client


leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
model_names = (
    st.sampled_from(SCENARIOS)
    | st.text(max_size=40)
    | st.sampled_from(
        ["mock/te\nxt", "mock/\u2713", "mock/te\x00xt", "mock/\r", "openrouter/../x", "free", " mock/text"]
    )
    | json_values
)
schemas = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["object", "string", "integer", "array", "nul", "x"]),
            "pattern": st.sampled_from(["^(a+)+$", "[", "(?P<x>", "^[a-z]+$", ".*"]) | st.text(max_size=8),
            "$ref": st.sampled_from(["#/nope", "#/$defs/x", "#", "http://169.254.169.254/x", ""]) | st.text(max_size=8),
            "required": json_values,
            "enum": json_values,
        },
    ),
    lambda children: st.fixed_dictionaries(
        {"type": st.just("object")},
        optional={
            "properties": st.dictionaries(st.text(max_size=6), children, max_size=3),
            "$defs": st.dictionaries(st.text(max_size=6), children, max_size=2),
            "items": children,
        },
    ),
    max_leaves=6,
)
tools = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["function", "function", "custom", "x"]), "function": st.fixed_dictionaries(
            {"name": st.from_regex(r"[a-z_]{1,12}", fullmatch=True) | st.text(max_size=10)},
            optional={"parameters": schemas | json_values, "strict": json_values},
        )},
    ),
    max_size=3,
)  # fmt: skip
contents = st.text(max_size=60) | json_values | st.just([{"type": "text", "text": "Say 'hi' 3 times"}])
messages = (
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "user", "system", "assistant", "tool", "developer", "robot"])},
            optional={"content": contents, "tool_call_id": json_values, "tool_calls": json_values, "name": json_values},
        ),
        max_size=4,
    )
    | json_values
)
depths = st.integers(min_value=1, max_value=100_000)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)


def with_deep_field(body: dict[str, Any], depth: int | None) -> bytes:
    """The body as JSON, with an unknown field nested `depth` arrays deep when given."""
    text = json.dumps(body)
    if depth is None or not text.startswith("{") or text == "{}":
        return text.encode()
    return (text[:-1] + ', "x_nested": ' + "[" * depth + "]" * depth + "}").encode()


def assert_handled(response: httpx.Response) -> None:
    assert response.status_code != 500, response.text[:1000]
    if response.status_code >= 400:
        assert_valid(response.json(), "ErrorResponse")


@FUZZ
@given(
    model=model_names,
    messages=messages,
    tools=tools | st.none(),
    stream=st.booleans() | json_values,
    extra=st.dictionaries(st.sampled_from(["models", "tool_choice", "response_format", "stream_options", "n"]),
                          json_values, max_size=2),
    depth=st.none() | depths,
    timeout=st.none() | header_values,
)  # fmt: skip
def test_chat_completions_never_fail(
    client: TestClient[Litestar],
    model: Any,
    messages: Any,
    tools: Any,
    stream: Any,
    extra: dict[str, Any],
    depth: int | None,
    timeout: str | None,
) -> None:
    body = {"model": model, "messages": messages, "stream": stream, **extra}
    if tools is not None:
        body["tools"] = tools
    headers = {"content-type": "application/json"}
    if timeout is not None:
        headers["x-llm-router-timeout"] = timeout
    response = client.post("/v1/chat/completions", content=with_deep_field(body, depth), headers=headers)

    assert_handled(response)


@FUZZ
@given(
    model=model_names,
    input_=st.text(max_size=40) | json_values,
    tools=st.lists(st.fixed_dictionaries({"type": st.just("function"), "name": st.from_regex(r"[a-z]{1,8}",
                   fullmatch=True)}, optional={"parameters": schemas}), max_size=2) | json_values,
    stream=st.booleans(),
    depth=st.none() | depths,
)  # fmt: skip
def test_responses_never_fail(
    client: TestClient[Litestar], model: Any, input_: Any, tools: Any, stream: bool, depth: int | None
) -> None:
    body = {"model": model, "input": input_, "tools": tools, "stream": stream}
    response = client.post(
        "/v1/responses", content=with_deep_field(body, depth), headers={"content-type": "application/json"}
    )

    assert_handled(response)


@settings(FUZZ, max_examples=100)
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_at_all(client: TestClient[Litestar], body: bytes) -> None:
    for path in ("/v1/chat/completions", "/v1/responses"):
        assert_handled(client.post(path, content=body, headers={"content-type": "application/json"}))
