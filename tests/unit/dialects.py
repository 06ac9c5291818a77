"""The provider dialects the unit conformance suite runs against, each described by its real wire examples.

A `UnitDialect` says how to configure one provider in the app, where its upstream answers (respx routes), and
what each of its captured answers must become for a client. `test_provider_conformance.py` runs the same
checks over every entry of `DIALECTS`: a new provider joins with one more entry here, and keeps only what is
its own (attribution headers, role rewrites, keep-alives, its request translation) in a file of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .support import (
    ANTHROPIC_BASE,
    ANTHROPIC_TABLE,
    DEEPSEEK_BASE,
    DEEPSEEK_TABLE,
    OPENROUTER_BASE,
    OPENROUTER_TABLE,
    USER_HI,
)
from .wire_examples import (
    ANTHROPIC_INVALID_KEY_401,
    ANTHROPIC_KEY,
    ANTHROPIC_MODELS,
    ANTHROPIC_NOARGS_MESSAGE,
    ANTHROPIC_OVERLOADED_529,
    ANTHROPIC_OVERLOADED_MID_STREAM,
    ANTHROPIC_PARALLEL_MESSAGE,
    ANTHROPIC_PARALLEL_TOOLS_STREAM,
    ANTHROPIC_PROMPT_TOO_LONG_400,
    ANTHROPIC_RATE_LIMIT_429,
    ANTHROPIC_STRUCTURED_MESSAGE,
    ANTHROPIC_TEXT_STREAM,
    ANTHROPIC_TEXT_USAGE,
    ANTHROPIC_THINKING_SIGNATURE,
    ANTHROPIC_THINKING_STREAM,
    ANTHROPIC_TOOL_CALL_ID,
    ANTHROPIC_TOOL_STREAM,
    ANTHROPIC_TOOL_USAGE,
    DEEPSEEK_INSUFFICIENT_BALANCE_402,
    DEEPSEEK_KEY,
    DEEPSEEK_OPENAI_USAGE,
    DEEPSEEK_REASONING_NOT_PASSED_400,
    DEEPSEEK_RESOURCE_STREAM,
    DEEPSEEK_STREAM_CALL_ID,
    DEEPSEEK_TEXT_COMPLETION,
    DEEPSEEK_TOOL_COMPLETION,
    DEEPSEEK_TOOL_STREAM,
    OPENAI_MID_STREAM_ERROR_STREAM,
    OPENAI_PARALLEL_CALLS,
    OPENAI_PARALLEL_TOOLS_STREAM,
    OPENAI_TEXT_COMPLETION,
    OPENAI_TEXT_STREAM,
    OPENAI_TOOL_COMPLETION,
    OPENROUTER_FREE_TIER_429,
    OPENROUTER_KEY,
    OPENROUTER_MIDSTREAM_ERROR_STREAM,
    OPENROUTER_MODELS,
    OPENROUTER_NOARGS_CALL_ID,
    OPENROUTER_NOARGS_TOOL_STREAM,
    OPENROUTER_REASONING_STREAM,
    OPENROUTER_REASONING_USAGE,
    OPENROUTER_TOOL_COMPLETION,
    anthropic_error,
    openai_invalid_key,
    openrouter_error,
    openrouter_text_completion,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

__all__ = ["DIALECTS", "Answer", "Failure", "UnitDialect"]

Call = tuple[str, str, str]  # id, name, arguments
# The thinking of ANTHROPIC_THINKING_STREAM, its two deltas put together.
THINKING = (
    "I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 \u00d7 462 + 147"
    "\n462 = 3 \u00d7 147 + 21\n147 = 7 \u00d7 21 + 0\n\nSo GCD(1071, 462) = 21"
)


@dataclass(frozen=True)
class Answer:
    """A captured answer (a body, or an SSE stream) and what a client must get from it."""

    name: str
    body: bytes
    text: str | None = ""  # the answer's content (None: null, as when it only calls tools)
    reasoning: str = ""
    calls: tuple[Call, ...] = ()
    finish: str = "stop"
    usage: dict[str, Any] | None = None  # None: the upstream reported none
    id: str = ""
    # Text of the provider's own that must not reach the client (its field names, its keep-alives).
    absent: tuple[str, ...] = ()
    reasoning_details: tuple[dict[str, Any], ...] = ()
    message: dict[str, Any] = field(default_factory=dict)  # OpenAI's own fields the message also has


@dataclass(frozen=True)
class Failure:
    """A captured error answer: the status it came with, and the text of it the client must see."""

    status: int
    body: bytes
    said: str


@dataclass(frozen=True)
class UnitDialect:
    """One provider, configured in the app over respx routes, with its captured answers."""

    name: str
    upstream_model: str
    chat_url: str
    models_url: str
    key: str
    key_env: str
    table: dict[str, Any]
    key_of: Callable[[httpx.Request], str]  # the key a request to the upstream carried
    simple_body: dict[str, Any]  # what the upstream gets for {"messages": USER_HI, "temperature": 0.2}
    stream_request: dict[str, Any]  # what the body of a stream request contains, at least
    text: Answer
    tools: Answer
    streams: tuple[Answer, ...]
    mid_stream: Answer  # its `text` is what came before the failure; `absent` unused
    mid_stream_error: tuple[str, str]  # the error event's type, and text of its message
    failures: dict[str, Failure]  # by kind: invalid, rate_limited, payment, server, overloaded, context
    bad_key: Failure
    models: bytes
    model_ids: tuple[str, ...]
    noargs: Answer | None = None
    env: dict[str, str] = field(default_factory=dict)  # the environment the provider reads its key from
    owned_by: str = ""  # what the listing says owns its models ("": the provider's name)

    @property
    def model(self) -> str:
        return f"{self.name}/{self.upstream_model}"


def _bearer(request: httpx.Request) -> str:
    authorization: str = request.headers.get("authorization", "")
    return authorization.removeprefix("Bearer ")


def _api_key(request: httpx.Request) -> str:
    key: str = request.headers.get("x-api-key", "")
    return key


def _openai_body(model: str) -> dict[str, Any]:
    return {"model": model, "messages": USER_HI, "temperature": 0.2}


def _openai_error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> Failure:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Failure(status, json.dumps(body).encode(), message)


def _deepseek_error(status: int, message: str) -> Failure:
    # DeepSeek's envelope is OpenAI's, with its own type and code (Notes §3).
    return _openai_error(status, message, code="invalid_request_error")


def _calls(*calls: Call) -> tuple[Call, ...]:
    return calls


OPENROUTER = UnitDialect(
    name="openrouter",
    upstream_model="meta-llama/llama-3.3-70b-instruct:free",
    chat_url=f"{OPENROUTER_BASE}/chat/completions",
    models_url=f"{OPENROUTER_BASE}/models",
    key=OPENROUTER_KEY,
    key_env="OPENROUTER_API_KEY",
    table=OPENROUTER_TABLE,
    key_of=_bearer,
    simple_body=_openai_body("meta-llama/llama-3.3-70b-instruct:free"),
    stream_request={"stream": True, "stream_options": {"include_usage": True}},
    text=Answer(
        "text",
        openrouter_text_completion(),
        "Hello!",
        usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    ),
    tools=Answer(
        "tool call",
        OPENROUTER_TOOL_COMPLETION,
        None,
        reasoning="I should look the weather up.",
        calls=_calls(("toolu_bdrk_01QmX7Sx5jLz3bUjKzpr1dT4", "get_weather", '{"city":"Paris"}')),
        finish="tool_calls",
        usage={
            "prompt_tokens": 310,
            "completion_tokens": 41,
            "total_tokens": 351,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 12},
        },
        reasoning_details=(
            {
                "type": "reasoning.text",
                "text": "I should look the weather up.",
                "format": "anthropic-claude-v1",
                "index": 0,
            },
        ),
    ),
    streams=(
        Answer(
            "reasoning",
            OPENROUTER_REASONING_STREAM,
            "Hello there!",
            reasoning="The user greets me.",
            usage=OPENROUTER_REASONING_USAGE,
            id="gen-1771592802-hDlyfTXagKZBer6JQTBv",
            absent=(": OPENROUTER", "provider", "native_finish_reason", '"reasoning"', "cost", "is_byok"),
            reasoning_details=(
                {"type": "reasoning.text", "text": "The user greets me.", "format": "anthropic-claude-v1", "index": 0},
            ),
        ),
        Answer(
            "no-argument call",
            OPENROUTER_NOARGS_TOOL_STREAM,
            None,
            calls=_calls((OPENROUTER_NOARGS_CALL_ID, "get_all_tabs", "{}")),
            finish="tool_calls",
            usage={"prompt_tokens": 25105, "completion_tokens": 55, "total_tokens": 25160},
            id="gen-1772969079-EhEx5DeV7JqM43lpl47Y",
        ),
    ),
    mid_stream=Answer("mid-stream error", OPENROUTER_MIDSTREAM_ERROR_STREAM, "Once upon"),
    mid_stream_error=("rate_limit_error", "Rate limit exceeded"),
    failures={
        "invalid": Failure(400, openrouter_error(400, "max_tokens is too large", b"{}"), "max_tokens is too large"),
        "rate_limited": Failure(429, OPENROUTER_FREE_TIER_429, "free-models-per-day"),
        "payment": Failure(402, openrouter_error(402, "Insufficient credits", b"{}"), "Insufficient credits"),
        "server": Failure(500, openrouter_error(500, "Internal Server Error"), "Internal Server Error"),
        "overloaded": Failure(
            503,
            openrouter_error(503, "No available provider", b'{"error_type":"provider_overloaded"}'),
            "No available provider",
        ),
        "context": Failure(
            400,
            openrouter_error(
                400,
                "This endpoint's maximum context length is 8192 tokens.",
                b'{"error_type":"context_length_exceeded"}',
            ),
            "maximum context length",
        ),
    },
    bad_key=Failure(
        401, openrouter_error(401, "User not found.", b'{"error_type":"authentication"}'), "User not found."
    ),
    models=OPENROUTER_MODELS,
    model_ids=("meta-llama/llama-3.3-70b-instruct:free", "openai/gpt-4"),
    noargs=None,
)

DEEPSEEK = UnitDialect(
    name="deepseek",
    upstream_model="deepseek-v4-flash",
    chat_url=f"{DEEPSEEK_BASE}/chat/completions",
    models_url=f"{DEEPSEEK_BASE}/models",
    key=DEEPSEEK_KEY,
    key_env="DEEPSEEK_API_KEY",
    table=DEEPSEEK_TABLE,
    key_of=_bearer,
    simple_body=_openai_body("deepseek-v4-flash"),
    stream_request={"stream": True, "stream_options": {"include_usage": True}},
    text=Answer(
        "text",
        DEEPSEEK_TEXT_COMPLETION,
        "Hi!",
        reasoning="Greet back.",
        usage={
            "prompt_tokens": 5,
            "completion_tokens": 3,
            "total_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    ),
    tools=Answer(
        "parallel tool calls",
        DEEPSEEK_TOOL_COMPLETION,
        None,
        reasoning="Two cities, two calls.",
        calls=_calls(
            ("call_00_Rk3bWq9sVt1mYc7nLp2xZa8d", "get_weather", '{"city": "Hangzhou"}'),
            ("call_01_Hf6tPz0uLe4nQx9mWb3vKc5s", "get_weather", '{"city": "Beijing"}'),
        ),
        finish="tool_calls",
        usage={
            "prompt_tokens": 300,
            "completion_tokens": 40,
            "total_tokens": 340,
            "prompt_tokens_details": {"cached_tokens": 256},
            "completion_tokens_details": {"reasoning_tokens": 8},
        },
    ),
    streams=(
        Answer(
            "reasoning and a tool call",
            DEEPSEEK_TOOL_STREAM,
            None,
            reasoning="余额查询",
            calls=_calls((DEEPSEEK_STREAM_CALL_ID, "get_user_balance", '{"user_id": "u-42"}')),
            finish="tool_calls",
            usage=DEEPSEEK_OPENAI_USAGE,
            id="23d01db0-7b76-413e-b4fd-b0bf3362f996",
            absent=("keep-alive", "prompt_cache_hit_tokens"),
        ),
    ),
    mid_stream=Answer("insufficient_system_resource", DEEPSEEK_RESOURCE_STREAM, "Par"),
    mid_stream_error=("server_error", "deepseek"),
    failures={
        "invalid": Failure(400, DEEPSEEK_REASONING_NOT_PASSED_400, "The `reasoning_content` in the thinking mode must"),
        "rate_limited": _deepseek_error(429, "Rate Limit Reached"),
        "payment": Failure(402, DEEPSEEK_INSUFFICIENT_BALANCE_402, "Insufficient Balance"),
        "server": _deepseek_error(500, "Server Error"),
        "overloaded": _deepseek_error(503, "Server Overloaded"),
    },
    bad_key=Failure(
        401,
        b'{"error":{"message":"Authentication Fails, Your api key: ****test is invalid",'
        b'"type":"authentication_error","param":null,"code":"invalid_request_error"}}',
        "Authentication Fails",
    ),
    models=b'{"object":"list","data":[{"id":"deepseek-v4-flash","object":"model","owned_by":"deepseek"}]}',
    model_ids=("deepseek-v4-flash",),
)

ANTHROPIC = UnitDialect(
    name="anthropic",
    upstream_model="claude-sonnet-4-5-20250929",
    chat_url=f"{ANTHROPIC_BASE}/v1/messages",
    models_url=f"{ANTHROPIC_BASE}/v1/models",
    key=ANTHROPIC_KEY,
    key_env="ANTHROPIC_API_KEY",
    table=ANTHROPIC_TABLE,
    key_of=_api_key,
    simple_body={
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "temperature": 0.2,
    },
    stream_request={"stream": True},
    text=Answer(
        "structured text",
        ANTHROPIC_STRUCTURED_MESSAGE,
        '{"items":[{"product_name":"Green Tea","price":5.50,"quantity":2},'
        '{"product_name":"Coffee","price":3.00,"quantity":1}],"total":14.0}',
        usage={
            "prompt_tokens": 406,
            "completion_tokens": 50,
            "total_tokens": 456,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    ),
    tools=Answer(
        "parallel tool calls",
        ANTHROPIC_PARALLEL_MESSAGE,
        None,
        calls=_calls(
            (ANTHROPIC_TOOL_CALL_ID, "get_weather", '{"location":"Paris"}'),
            ("toolu_01A09q90qw90lq917835lq9", "get_time", '{"timezone":"Europe/Paris"}'),
        ),
        finish="tool_calls",
        usage={
            "prompt_tokens": 377,
            "completion_tokens": 98,
            "total_tokens": 475,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    ),
    streams=(
        Answer(
            "text", ANTHROPIC_TEXT_STREAM, "Hello there!", usage=ANTHROPIC_TEXT_USAGE, absent=("ping", "content_block")
        ),
        Answer(
            "text and a tool call",
            ANTHROPIC_TOOL_STREAM,
            "I'll check the current weather in Paris for you.",
            calls=_calls((ANTHROPIC_TOOL_CALL_ID, "get_weather", '{"location": "Paris"}')),
            finish="tool_calls",
            usage=ANTHROPIC_TOOL_USAGE,
            id="msg_019Q1hrJbZG26Fb9BQhrkHEr",
            absent=("caller", "input_json_delta", "service_tier"),
        ),
        Answer(
            "parallel tool calls",
            ANTHROPIC_PARALLEL_TOOLS_STREAM,
            "I'll check the current weather in Paris for you.",
            calls=_calls(
                (ANTHROPIC_TOOL_CALL_ID, "get_weather", '{"location": "Paris"}'),
                ("toolu_01A09q90qw90lq917835lq9", "get_time", '{"timezone": "Europe/Paris"}'),
            ),
            finish="tool_calls",
            usage={**ANTHROPIC_TOOL_USAGE, "completion_tokens": 98, "total_tokens": 475},
        ),
        Answer(
            "thinking",
            ANTHROPIC_THINKING_STREAM,
            "The greatest common divisor of 1071 and 462 is **21**.",
            reasoning=THINKING,
            usage={"prompt_tokens": 48, "completion_tokens": 191, "total_tokens": 239},
            absent=("signature_delta", "thinking_delta"),
            reasoning_details=(
                {
                    "type": "reasoning.text",
                    "text": THINKING,
                    "signature": ANTHROPIC_THINKING_SIGNATURE,
                    "format": "anthropic-claude-v1",
                    "index": 0,
                },
            ),
        ),
    ),
    mid_stream=Answer("overloaded", ANTHROPIC_OVERLOADED_MID_STREAM, "I"),
    mid_stream_error=("server_error", "Overloaded"),
    failures={
        "invalid": Failure(
            400,
            anthropic_error(
                "invalid_request_error",
                "max_tokens: 300000 > 64000, which is the maximum allowed number of output tokens for "
                "claude-sonnet-4-5-20250929",
            ),
            "max_tokens: 300000 > 64000",
        ),
        "rate_limited": Failure(429, ANTHROPIC_RATE_LIMIT_429, "would exceed the rate limit"),
        "payment": Failure(
            402,
            anthropic_error(
                "billing_error",
                "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to "
                "upgrade or purchase credits.",
            ),
            "Your credit balance is too low",
        ),
        "server": Failure(500, anthropic_error("api_error", "Internal server error"), "Internal server error"),
        "overloaded": Failure(529, ANTHROPIC_OVERLOADED_529, "Overloaded"),
        "context": Failure(400, ANTHROPIC_PROMPT_TOO_LONG_400, "prompt is too long"),
    },
    bad_key=Failure(401, ANTHROPIC_INVALID_KEY_401, "invalid x-api-key"),
    models=ANTHROPIC_MODELS,
    model_ids=("claude-sonnet-4-5-20250929", "claude-3-haiku-20240307"),
    noargs=Answer(
        "no-argument call",
        ANTHROPIC_NOARGS_MESSAGE,
        None,
        calls=_calls(("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_all_tabs", "{}")),
        finish="tool_calls",
        usage={"prompt_tokens": 320, "completion_tokens": 31, "total_tokens": 351},
    ),
)

LOCAL_BASE = "https://local.test/v1"
LOCAL_KEY = "sk-local-test-key"
# A server defined only in the configuration file, speaking OpenAI's own dialect (no quirks).
CONFIGURED = UnitDialect(
    name="local",
    upstream_model="gpt-4o-mini",
    chat_url=f"{LOCAL_BASE}/chat/completions",
    models_url=f"{LOCAL_BASE}/models",
    key=LOCAL_KEY,
    key_env="LOCAL_LLM_KEY",
    table={"type": "openai-compatible", "base_url": LOCAL_BASE, "api_key_env": "LOCAL_LLM_KEY"},
    env={"LOCAL_LLM_KEY": LOCAL_KEY},
    key_of=_bearer,
    simple_body=_openai_body("gpt-4o-mini"),
    stream_request={"stream": True, "stream_options": {"include_usage": True}},
    text=Answer(
        "text",
        OPENAI_TEXT_COMPLETION,
        "Hello! How can I assist you today?",
        message={"annotations": []},
        usage={
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    ),
    tools=Answer(
        "tool call",
        OPENAI_TOOL_COMPLETION,
        None,
        calls=_calls(("call_abc123", "get_current_weather", '{\n"location": "Boston, MA"\n}')),
        finish="tool_calls",
        usage={
            "prompt_tokens": 82,
            "completion_tokens": 17,
            "total_tokens": 99,
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    ),
    streams=(
        Answer(
            "text",
            OPENAI_TEXT_STREAM,
            "Hello! How can I help?",
            usage={"prompt_tokens": 19, "completion_tokens": 6, "total_tokens": 25},
            id="chatcmpl-123",
        ),
        Answer(
            "parallel tool calls",
            OPENAI_PARALLEL_TOOLS_STREAM,
            None,
            calls=tuple(OPENAI_PARALLEL_CALLS),
            finish="tool_calls",
            usage={
                "prompt_tokens": 149,
                "completion_tokens": 60,
                "total_tokens": 209,
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
            id="chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63",
        ),
    ),
    mid_stream=Answer("server error", OPENAI_MID_STREAM_ERROR_STREAM, "Hello"),
    mid_stream_error=("server_error", "The server had an error while processing your request"),
    failures={
        "invalid": _openai_error(400, "Invalid value for 'temperature': must be at most 2."),
        "rate_limited": _openai_error(429, "Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded"),
        "payment": _openai_error(402, "You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
        "server": _openai_error(500, "The server had an error while processing your request.", "server_error"),
        "overloaded": _openai_error(503, "The engine is currently overloaded, please try again later", "server_error"),
        "context": _openai_error(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
            code="context_length_exceeded",
        ),
    },
    bad_key=Failure(401, openai_invalid_key(LOCAL_KEY), "Incorrect API key provided"),
    models=b'{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}]}',
    model_ids=("gpt-4o-mini",),
    owned_by="system",
)

DIALECTS = (OPENROUTER, DEEPSEEK, ANTHROPIC, CONFIGURED)
