"""What an OpenAI-dialect upstream receives: the client's request, byte for byte, but for the documented changes.

Each test runs once per registered dialect that speaks OpenAI's wire format (the `openai_dialect` fixture).
What a client gets back, from every dialect, is the conformance suite's (`test_chat_conformance.py`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.chat_requests import QUESTION, STOCK, WEATHER, function_calls, model, request
from tests.e2e.sse import post_json, post_stream

if TYPE_CHECKING:
    import openai

    from tests.e2e.upstreams import OpenAIWireDialect, Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e


def test_tools_and_choices_reach_upstream_as_sent(
    router: RouterProcess, upstream: Upstream, openai_dialect: OpenAIWireDialect
) -> None:
    body = request(openai_dialect, "tool", tool_choice="auto", parallel_tool_calls=False)

    assert post_json(router.base_url, body).status_code == 200

    sent = upstream.last(openai_dialect.name)
    assert sent.body["model"] == "tool"  # the provider prefix is stripped
    assert sent.body["tools"] == [WEATHER, STOCK]
    assert sent.body["tool_choice"] == "auto"
    assert sent.body["parallel_tool_calls"] is False
    assert sent.headers["authorization"] == f"Bearer {openai_dialect.key}"


def test_tool_round_trip_history_reaches_upstream_intact(
    client: openai.OpenAI, upstream: Upstream, openai_dialect: OpenAIWireDialect
) -> None:
    first = client.chat.completions.create(model=model(openai_dialect, "tool"), messages=QUESTION, tools=[WEATHER])
    (call,) = function_calls(first.choices[0].message)
    history: list[Any] = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21}'},
    ]

    client.chat.completions.create(model=model(openai_dialect, "tool"), messages=history, tools=[WEATHER])

    assert upstream.last(openai_dialect.name).body["messages"] == json.loads(json.dumps(history))


def test_unknown_fields_pass_through(
    router: RouterProcess, upstream: Upstream, openai_dialect: OpenAIWireDialect
) -> None:
    extra = {
        "provider": {"order": ["Together"], "allow_fallbacks": False},
        "plugins": [{"id": "web"}],
        "reasoning": {"effort": "low"},
        "thinking": {"type": "enabled"},
        "top_k": 40,
    }
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]
    body = {"model": model(openai_dialect, "text"), "messages": messages, **extra}

    assert post_json(router.base_url, body).status_code == 200

    sent = upstream.last(openai_dialect.name).body
    assert {key: sent[key] for key in extra} == extra
    assert sent["messages"] == messages


def test_developer_role(client: openai.OpenAI, upstream: Upstream, openai_dialect: OpenAIWireDialect) -> None:
    messages: list[Any] = [{"role": "developer", "content": "Be brief."}, *QUESTION]

    client.chat.completions.create(model=model(openai_dialect, "text"), messages=messages)

    sent = upstream.last(openai_dialect.name).body["messages"]
    assert sent[0] == {"role": openai_dialect.developer_role, "content": "Be brief."}
    assert sent[1:] == QUESTION


def test_reasoning_goes_back_under_the_dialects_name(
    client: openai.OpenAI, upstream: Upstream, openai_dialect: OpenAIWireDialect
) -> None:
    history: list[Any] = [
        *QUESTION,
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Call the tool.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]

    client.chat.completions.create(model=model(openai_dialect, "text"), messages=history, tools=[WEATHER])

    assistant = upstream.last(openai_dialect.name).body["messages"][1]
    assert assistant[openai_dialect.reasoning_key] == "Call the tool."


def test_streams_always_ask_the_upstream_for_usage(
    router: RouterProcess, upstream: Upstream, openai_dialect: OpenAIWireDialect
) -> None:
    stream = post_stream(router.base_url, request(openai_dialect, "text", stream=True))

    assert stream.done
    # The router decides what the client sees.
    assert upstream.last(openai_dialect.name).body["stream_options"] == {"include_usage": True}
