"""`/v1/messages` driven by the official `anthropic` SDK against a real router: the mock provider and the
scripted OpenRouter and DeepSeek upstreams, with tools, streamed and not, a full tool round trip, errors as
the SDK's exception classes, token counts, and client keys sent as `x-api-key`.

Every answer is also read raw and validated against the SDK's own types (`tests.support.anthropic`): the
SDK builds its objects without validating them, so a missing field would otherwise go unnoticed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anthropic
import httpx
import pytest
from anthropic.types import ThinkingBlock, ToolUseBlock

from app.access import hash_key
from tests.e2e.upstreams import DIALECTS, OpenAIWireDialect
from tests.e2e.upstreams.scenarios import ARGS, ARGS_2
from tests.support.anthropic import assert_anthropic_error, assert_message, assert_stream, parse_events
from tests.support.processes import run_router

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from anthropic.types import Message, MessageParam, ToolParam

    from tests.e2e.upstreams import Upstream
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

WEATHER: ToolParam = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location"],
    },
}
STOCK: ToolParam = {
    "name": "get_stock_price",
    "input_schema": {"type": "object", "properties": {"symbol": {"type": "string"}}, "required": ["symbol"]},
}
TOOLS = [WEATHER, STOCK]
# What the scripted upstream's tool calls say (tests/e2e/upstreams/scenarios.py).
WEATHER_INPUT = json.loads(ARGS)
STOCK_INPUT = json.loads(ARGS_2)
ONE_ATTEMPT = {"x-llm-router-max-attempts": "1"}


def question(text: str = "What is the weather in 'Paris'?") -> list[MessageParam]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def claude(router: RouterProcess) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=router.root_url, api_key="sk-client-anything", max_retries=0) as sdk:
        yield sdk


@pytest.fixture(params=[None, *DIALECTS], ids=lambda each: each.name if each else "mock")
def provider(request: pytest.FixtureRequest) -> str:
    """The mock, then each dialect of the scripted upstream that speaks OpenAI's wire format: the provider
    name of a model id (`<provider>/<scenario>`)."""
    each: OpenAIWireDialect | None = request.param
    return each.name if each else "mock"


def create(claude: anthropic.Anthropic, model: str, **fields: Any) -> Message:
    """`messages.create`, its raw body validated against the SDK's `Message` first."""
    fields.setdefault("messages", question())
    raw = claude.messages.with_raw_response.create(model=model, max_tokens=1024, **fields)
    body = raw.json()
    assert isinstance(body, dict)
    assert_message(body)
    assert raw.headers["request-id"] == raw.headers["x-request-id"]
    message: Message = raw.parse()
    return message


def stream(claude: anthropic.Anthropic, model: str, **fields: Any) -> Message:
    """`messages.stream`, accumulated by the SDK's `get_final_message()`; the same request, read raw, is
    checked against Anthropic's stream grammar and adds up to the same message."""
    fields.setdefault("messages", question())
    with claude.messages.stream(model=model, max_tokens=1024, **fields) as events:
        final = events.get_final_message()
    body = {"model": model, "max_tokens": 1024, "stream": True, **fields}
    raw = httpx.post(
        f"{str(claude.base_url).rstrip('/')}/v1/messages",
        content=json.dumps(body, default=lambda block: block.model_dump(exclude_none=True)),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert raw.status_code == 200, raw.text
    message = assert_stream(parse_events(raw.text))
    assert [block["type"] for block in message["content"]] == [block.type for block in final.content]
    return final


# ---------------------------------------------------------------------------------------------------- answers


def test_a_tool_call_with_create_and_stream(claude: anthropic.Anthropic, provider: str) -> None:
    for answer in (create(claude, f"{provider}/tool", tools=TOOLS), stream(claude, f"{provider}/tool", tools=TOOLS)):
        (call,) = answer.content
        assert call.type == "tool_use"
        assert call.name == "get_weather"
        assert call.input == ({"location": "Paris"} if provider == "mock" else WEATHER_INPUT)
        assert answer.stop_reason == "tool_use"
        assert answer.id.startswith("msg_")


def test_parallel_calls_with_create_and_stream(claude: anthropic.Anthropic, provider: str) -> None:
    for answer in (
        create(claude, f"{provider}/parallel", tools=TOOLS),
        stream(claude, f"{provider}/parallel", tools=TOOLS),
    ):
        calls = [(block.type, block.name, block.input) for block in answer.content if block.type == "tool_use"]
        assert len(calls) == len(answer.content) == 2
        assert [name for _, name, _ in calls] == ["get_weather", "get_stock_price"]
        if provider != "mock":
            assert [arguments for _, _, arguments in calls] == [WEATHER_INPUT, STOCK_INPUT]
        ids = [block.id for block in answer.content if block.type == "tool_use"]
        assert len(set(ids)) == 2


def test_a_full_tool_round_trip(claude: anthropic.Anthropic, upstream: Upstream, provider: str) -> None:
    model = f"{provider}/tool"
    called = create(claude, model, tools=TOOLS)
    (call,) = called.content
    assert call.type == "tool_use"
    messages: list[MessageParam] = [
        *question(),
        {"role": "assistant", "content": called.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}]},
    ]

    answered = stream(claude, model, tools=TOOLS, messages=messages)

    (text,) = answered.content
    assert text.type == "text"
    assert "Sunny, 21 C" in text.text
    assert answered.stop_reason == "end_turn"
    if provider == "anthropic":  # Anthropic in, Anthropic out: the turns arrive as the client wrote them
        sent = upstream.last(provider).body["messages"]
        assert sent[1]["content"] == [
            {"type": "tool_use", "id": call.id, "name": "get_weather", "input": WEATHER_INPUT}
        ]
        assert sent[2]["content"] == [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}]
    elif provider != "mock":
        sent = upstream.last(provider).body["messages"]
        assert sent[1]["tool_calls"][0]["id"] == call.id
        assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == WEATHER_INPUT
        assert sent[2] == {"role": "tool", "content": "Sunny, 21 C", "tool_call_id": call.id}


def test_reasoning_is_a_thinking_block_and_goes_back_upstream(
    claude: anthropic.Anthropic, upstream: Upstream, openai_dialect: OpenAIWireDialect
) -> None:
    model = f"{openai_dialect.name}/reasoning"
    created = thinking_and_call(create(claude, model, tools=TOOLS))
    answer = stream(claude, model, tools=TOOLS)
    thinking, call = thinking_and_call(answer)
    assert created[1].input == call.input

    messages: list[MessageParam] = [
        *question(),
        {"role": "assistant", "content": answer.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny"}]},
    ]
    create(claude, model, tools=TOOLS, messages=messages, thinking={"type": "enabled", "budget_tokens": 2048})

    sent = upstream.last(openai_dialect.name).body
    reasoning = sent["messages"][1][openai_dialect.reasoning_key]
    assert reasoning == thinking.thinking
    assert sent["reasoning_effort"] == "low"


def thinking_and_call(answer: Message) -> tuple[ThinkingBlock, ToolUseBlock]:
    thinking, call = answer.content
    assert isinstance(thinking, ThinkingBlock)
    assert "the weather" in thinking.thinking
    assert thinking.signature == ""  # chat keeps no signature
    assert isinstance(call, ToolUseBlock)
    return thinking, call


def test_a_call_without_arguments_has_an_empty_input(claude: anthropic.Anthropic, provider: str) -> None:
    for answer in (
        create(claude, f"{provider}/noargs", tools=TOOLS),
        stream(claude, f"{provider}/noargs", tools=TOOLS),
    ):
        (call,) = answer.content
        assert call.type == "tool_use"
        assert call.input == {}


def test_usage_counts_cached_tokens_apart(claude: anthropic.Anthropic, openai_dialect: OpenAIWireDialect) -> None:
    reported = openai_dialect.client_usage
    cached = reported.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    expected = (reported["prompt_tokens"] - cached, reported["completion_tokens"], cached)
    model = f"{openai_dialect.name}/text"
    for answer in (create(claude, model), stream(claude, model)):
        usage = answer.usage
        assert (usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == expected
        assert usage.cache_creation_input_tokens == 0


# ----------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("scenario", "error", "status"),
    [
        ("rate-limited", anthropic.RateLimitError, 429),
        ("down", anthropic.OverloadedError, 529),
        ("bad-request", anthropic.BadRequestError, 400),
        ("context-too-long", anthropic.BadRequestError, 400),
        ("missing-model", anthropic.NotFoundError, 404),
        ("bad-key", anthropic.InternalServerError, 502),
    ],
)
def test_upstream_failures_raise_the_sdks_exceptions(
    claude: anthropic.Anthropic,
    openai_dialect: OpenAIWireDialect,
    scenario: str,
    error: type[anthropic.APIStatusError],
    status: int,
) -> None:
    model = f"{openai_dialect.name}/{scenario}"

    def streamed() -> None:
        with claude.messages.stream(
            model=model, max_tokens=64, messages=question(), extra_headers=ONE_ATTEMPT
        ) as events:
            events.get_final_message()

    def created() -> None:
        claude.messages.create(model=model, max_tokens=64, messages=question(), extra_headers=ONE_ATTEMPT)

    for call in (created, streamed):
        with pytest.raises(error) as raised:
            call()

        assert raised.value.status_code == status
        assert_anthropic_error(raised.value.body)
        assert "sk-e2e0secret" not in raised.value.message
    if scenario == "rate-limited":
        assert raised.value.response.headers["retry-after"] == "7"


def test_a_failure_mid_stream_raises_in_the_sdk(claude: anthropic.Anthropic, openai_dialect: OpenAIWireDialect) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        claude.messages.stream(
            model=f"{openai_dialect.name}/mid-stream-error", max_tokens=64, messages=question()
        ) as events,
    ):
        events.get_final_message()

    assert_anthropic_error(raised.value.body, "api_error")


def test_the_routers_own_refusals(claude: anthropic.Anthropic, router: RouterProcess) -> None:
    no_max_tokens = httpx.post(
        f"{router.root_url}/v1/messages", json={"model": "mock/text", "messages": question()}, timeout=10
    )
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        claude.messages.create(
            model="mock/text",
            max_tokens=64,
            messages=question(),
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="nowhere/model", max_tokens=64, messages=question())

    assert no_max_tokens.status_code == 400
    assert "max_tokens" in assert_anthropic_error(no_max_tokens.json(), "invalid_request_error")["message"]
    assert "web_search" in assert_anthropic_error(server_tool.value.body, "invalid_request_error")["message"]


def test_count_tokens(claude: anthropic.Anthropic) -> None:
    short = claude.messages.count_tokens(model="mock/text", messages=question("Hi"))
    long = claude.messages.count_tokens(model="mock/text", messages=question("Hi " * 400), tools=TOOLS)

    assert 0 < short.input_tokens < long.input_tokens


# ------------------------------------------------------------------------------------------------ client keys

AGENT_KEY = "sk-llmr-e2e-claude-0123456789"
TIGHT_KEY = "sk-llmr-e2e-claude-tight-0123456789"
KEYS_CONFIG = f"""
log_format = "json"

[routing]
max_attempts = 1

# Tools that ask for Claude by name reach other models through an alias (here one that falls back).
[models."claude-sonnet-5"]
targets = ["mock/server-error", "mock/tool"]

[keys.agent]
sha256 = "{hash_key(AGENT_KEY)}"
models = ["mock/*", "claude-sonnet-5"]

[keys.tight]
sha256 = "{hash_key(TIGHT_KEY)}"
requests_per_minute = 1
"""


@pytest.fixture(scope="module")
def keyed_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    directory: Path = tmp_path_factory.mktemp("claude-keys")
    config = directory / "llm-router.toml"
    config.write_text(KEYS_CONFIG, encoding="utf-8")
    yield from run_router(directory, {}, ("--config", str(config)))


def keyed(router: RouterProcess, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=router.root_url, api_key=key, max_retries=0)


def test_an_alias_falls_back_and_says_so_in_the_routing_headers(keyed_router: RouterProcess) -> None:
    with keyed(keyed_router, AGENT_KEY) as claude:
        raw = claude.messages.with_raw_response.create(
            model="claude-sonnet-5",
            max_tokens=64,
            messages=question(),
            tools=TOOLS,
            extra_headers={"x-llm-router-timeout": "20"},
        )

    assert (raw.headers["x-llm-router-target"], raw.headers["x-llm-router-attempts"]) == ("mock/tool", "2")
    assert raw.parse().content[0].type == "tool_use"


def test_client_keys_limits_logs_and_metrics(keyed_router: RouterProcess) -> None:
    with keyed(keyed_router, AGENT_KEY) as claude:
        answer = claude.messages.create(model="mock/tool", max_tokens=64, messages=question(), tools=TOOLS)
        with claude.messages.stream(model="mock/text", max_tokens=64, messages=question()) as events:
            streamed = events.get_final_message()
        with pytest.raises(anthropic.PermissionDeniedError):
            claude.messages.create(model="deepseek/deepseek-chat", max_tokens=64, messages=question())
    with keyed(keyed_router, "sk-llmr-wrong") as claude, pytest.raises(anthropic.AuthenticationError) as wrong:
        claude.messages.create(model="mock/text", max_tokens=64, messages=question())
    with keyed(keyed_router, TIGHT_KEY) as claude:
        claude.messages.create(model="mock/text", max_tokens=64, messages=question())
        with pytest.raises(anthropic.RateLimitError) as limited:
            claude.messages.create(model="mock/text", max_tokens=64, messages=question())

    assert answer.content[0].type == "tool_use"
    assert streamed.content[0].type == "text"
    assert_anthropic_error(wrong.value.body, "authentication_error")
    assert limited.value.response.headers["retry-after"]
    assert limited.value.response.headers["x-ratelimit-remaining-requests"] == "0"

    lines = [json.loads(line) for line in keyed_router.logs().splitlines() if line.startswith("{")]
    served = [line for line in lines if line.get("path") == "/v1/messages" and line.get("status") == 200]
    called = next(line for line in served if line["model"] == "mock/tool")
    assert (called["key"], called["target"], called["tool_calls"], called["stream"]) == ("agent", "mock/tool", 1, False)
    assert called["prompt_tokens"] > 0
    assert any(line["stream"] for line in served)
    assert AGENT_KEY not in keyed_router.logs()
    assert TIGHT_KEY not in keyed_router.logs()

    metrics = httpx.get(f"{keyed_router.root_url}/metrics", timeout=10).text
    assert 'llm_router_requests_total{model="mock/tool",route="/v1/messages",status="200"}' in metrics
