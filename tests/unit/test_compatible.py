"""Servers that speak OpenAI's API, defined in the configuration file: their settings, their quirk switches, and
how the registry builds them beside the installed providers. What every provider must do is the conformance
suite's (`test_provider_conformance.py`), which runs one such server among the others."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.registry import build_providers
from app.settings import ConfigError, Settings

from .support import (
    PROVIDER_CLASSES,
    USER_HI,
    assert_error,
    completion_of,
    json_response,
    sent_json,
    stream_of,
    streamed,
    text_of,
)
from .wire_examples import OPENAI_TEXT_COMPLETION, OPENAI_TEXT_STREAM

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Callable

    import respx
    from litestar import Litestar
    from litestar.testing import AsyncTestClient

    Client = AsyncTestClient[Litestar]
    MakeClient = Callable[..., contextlib.AbstractAsyncContextManager[Client]]

BASE = "http://127.0.0.1:11434/v1"
CHAT = f"{BASE}/chat/completions"
README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE = README.with_name("llm-router.example.toml")

# A conversation that touches every quirk: a developer message, an assistant turn that only calls a tool (content
# null), its result; with `parallel_tool_calls` and `max_completion_tokens`.
DEVELOPER = b'{"role":"developer","content":"Answer in French."}'
USER = b'{"role":"user","content":"Weather in Paris?"}'
CALLER = (
    b'{"role":"assistant","content":null,"reasoning_content":"Look it up.","reasoning_details":[{"type":'
    b'"reasoning.text","text":"Look it up.","signature":"c2ln","format":"anthropic-claude-v1","index":0}],'
    b'"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":'
    b'"{\\"city\\":\\"Paris\\"}"}}]}'
)
RESULT = b'{"role":"tool","tool_call_id":"call_1","content":"sunny"}'
TOOLS = b'[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]'
BODY = (
    b'{"model":"ollama/llama3.1","messages":[%s,%s,%s,%s],"tools":%s,"parallel_tool_calls":false,'
    b'"max_completion_tokens":300}' % (DEVELOPER, USER, CALLER, RESULT, TOOLS)
)
UPSTREAM_BODY = BODY.replace(b"ollama/llama3.1", b"llama3.1")


def table(**values: Any) -> dict[str, Any]:
    return {"type": "openai-compatible", "base_url": BASE, **values}


async def send(make_client: MakeClient, provider: dict[str, Any], body: bytes = BODY) -> httpx.Response:
    async with make_client(providers={"ollama": provider}) as client:
        return await client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})


@pytest.fixture
def chat(upstream: respx.MockRouter) -> respx.Route:
    return upstream.post(CHAT).mock(return_value=json_response(OPENAI_TEXT_COMPLETION))


# ----------------------------------------------------------------------------------------------- requests


async def test_without_quirks_the_request_goes_as_sent(make_client: MakeClient, chat: respx.Route) -> None:
    response = await send(make_client, table())

    completion_of(response)
    assert chat.calls.last.request.content == UPSTREAM_BODY
    assert "authorization" not in chat.calls.last.request.headers  # no key configured: none needed
    assert response.headers["x-llm-router-target"] == "ollama/llama3.1"


@pytest.mark.parametrize(
    ("quirk", "changed"),
    [
        ("developer_as_system", {"messages": 0}),
        ("empty_content_with_tool_calls", {"messages": 2}),
        ("no_parallel_tool_calls", {"parallel_tool_calls": None}),
        ("max_tokens_only", {"max_completion_tokens": None, "max_tokens": 300}),
        ("no_reasoning_fields", {"messages": 2}),
    ],
)
async def test_each_quirk_changes_only_its_own_part(
    make_client: MakeClient, chat: respx.Route, quirk: str, changed: dict[str, Any]
) -> None:
    response = await send(make_client, table(quirks={quirk: True}))

    completion_of(response)
    sent = sent_json(chat)
    expected = json.loads(UPSTREAM_BODY)
    if quirk == "developer_as_system":
        expected["messages"][0]["role"] = "system"
    elif quirk == "empty_content_with_tool_calls":
        expected["messages"][2]["content"] = ""
    elif quirk == "no_reasoning_fields":
        del expected["messages"][2]["reasoning_content"], expected["messages"][2]["reasoning_details"]
    for key, value in changed.items():
        if key != "messages":
            expected.pop(key) if value is None else expected.__setitem__(key, value)
    assert sent == expected
    raw = chat.calls.last.request.content
    untouched = [USER, RESULT] + (
        [CALLER] if quirk not in ("empty_content_with_tool_calls", "no_reasoning_fields") else []
    )
    for message in untouched:
        assert message in raw  # messages a quirk does not touch go as the client's own bytes


async def test_quirks_on_one_message_all_apply(make_client: MakeClient, chat: respx.Route) -> None:
    quirks = {"empty_content_with_tool_calls": True, "no_reasoning_fields": True}

    await send(make_client, table(quirks=quirks))

    assert sent_json(chat)["messages"][2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    }


async def test_empty_content_also_fills_a_missing_content(make_client: MakeClient, chat: respx.Route) -> None:
    body = BODY.replace(b'"role":"assistant","content":null,', b'"role":"assistant",')

    await send(make_client, table(quirks={"empty_content_with_tool_calls": True}), body)

    assert sent_json(chat)["messages"][2]["content"] == ""


@pytest.mark.parametrize("quirk", [False, True])
async def test_stream_options_are_left_out_with_their_quirk(
    make_client: MakeClient, upstream: respx.MockRouter, quirk: bool
) -> None:
    route = upstream.post(CHAT).mock(side_effect=streamed(OPENAI_TEXT_STREAM))
    body = json.dumps(
        {"model": "ollama/llama3.1", "messages": USER_HI, "stream": True, "stream_options": {"include_usage": True}}
    ).encode()

    response = await send(make_client, table(quirks={"no_stream_options": quirk}), body)

    chunks = stream_of(response)
    assert text_of(chunks) == "Hello! How can I help?"
    sent = sent_json(route)
    assert ("stream_options" in sent) is not quirk
    # A server that sends usage anyway (this one does) still gives the client its usage chunk.
    assert chunks[-1]["usage"] == {"prompt_tokens": 19, "completion_tokens": 6, "total_tokens": 25}


async def test_the_key_comes_from_its_variable_and_extra_headers_go_along(
    make_client: MakeClient, chat: respx.Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test-key-0123")
    provider = table(api_key_env="GROQ_API_KEY", headers={"X-Tenant": "acme", "OpenAI-Project": "proj_1"})

    response = await send(make_client, provider)

    completion_of(response)
    headers = chat.calls.last.request.headers
    assert headers["authorization"] == "Bearer gsk-test-key-0123"
    assert headers["x-tenant"] == "acme"
    assert headers["openai-project"] == "proj_1"


async def test_a_missing_key_names_its_variable(make_client: MakeClient, chat: respx.Route) -> None:
    response = await send(make_client, table(api_key_env="GROQ_API_KEY"))

    error = assert_error(response, 503, code="provider_not_configured")
    assert "GROQ_API_KEY" in error["message"]
    assert chat.call_count == 0


async def test_a_refused_key_is_scrubbed_and_names_its_variable(
    make_client: MakeClient, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test-key-0123")
    refusal = (
        b'{"error":{"message":"Invalid API Key gsk-test-key-0123","type":"invalid_request_error",'
        b'"code":"invalid_api_key"}}'
    )
    upstream.post(CHAT).mock(return_value=json_response(refusal, 401))

    response = await send(make_client, table(api_key_env="GROQ_API_KEY"))

    error = assert_error(response, 502, code="upstream_authentication_failed")
    assert "GROQ_API_KEY" in error["message"]
    assert "gsk-test-key-0123" not in response.text


async def test_capabilities_steer_aliases(make_client: MakeClient, upstream: respx.MockRouter) -> None:
    route = upstream.post(CHAT).mock(return_value=json_response(OPENAI_TEXT_COMPLETION))
    upstream.get(f"{BASE}/models").mock(return_value=json_response(b'{"object":"list","data":[]}'))
    alias = {"tools": {"targets": ["ollama/llama3.1", "mock/tool"]}}
    request = {"model": "tools", "messages": USER_HI, "tools": json.loads(TOOLS)}

    async with make_client(providers={"ollama": table(capabilities={"tools": False})}, models=alias) as client:
        response = await client.post("/v1/chat/completions", json=request)

    assert response.headers["x-llm-router-target"] == "mock/tool"
    assert route.call_count == 0


# ------------------------------------------------------------------------------------------------ registry


def providers_of(tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    return build_providers(Settings(providers=tables), transport, PROVIDER_CLASSES)


def test_a_server_is_built_beside_the_installed_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LM_STUDIO_TIMEOUT", "7")  # `<NAME>_*` variables, as for every provider

    providers = providers_of({"lm-studio": table(), "openrouter": {"api_key": "sk-or-x"}})

    assert {"openrouter", "deepseek", "anthropic", "mock", "lm-studio"} <= set(providers)
    studio = providers["lm-studio"]
    assert studio.name == "lm-studio"
    assert studio.configured
    assert studio.settings.timeout == 7.0
    assert studio.settings.base_url == BASE


@pytest.mark.parametrize(
    ("tables", "said"),
    [
        ({"openrouter": table()}, "openrouter is an installed provider"),
        ({"ollama": {**table(), "type": "anthropic"}}, "'anthropic' is not a kind the router knows"),
        ({"Ollama": table()}, "a provider's name is"),
        ({"ollama": {"type": "openai-compatible"}}, "base_url in [providers.ollama]: Field required"),
        ({"ollama": table(quirks={"no_tools": True})}, "quirks.no_tools"),
        ({"ollama": {"base_url": BASE}}, 'needs type = "openai-compatible"'),
        ({"ollama": table(headers={"x-naïve": "1"})}, "'x-naïve' is not a header name"),
        ({"ollama": table(headers={"x a": "1"})}, "'x a' is not a header name"),
        ({"ollama": table(headers={"x-a": "1\r\nx-b: 2"})}, "the value of 'x-a' has a line break"),
        ({"ollama": table(headers={"x-a": "€"})}, "the value of 'x-a' has a line break, control or non-ASCII"),
        ({"ollama": table(api_key="sk-local-0123\n")}, "api_key in [providers.ollama]: holds a space, line break"),
    ],
)
def test_a_table_the_router_cannot_use_is_a_config_error(tables: dict[str, dict[str, Any]], said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        providers_of(tables)

    assert said in str(raised.value)


def test_the_example_configurations_commented_server_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "ollama-test-key")
    lines = EXAMPLE.read_text(encoding="utf-8").split("\n")
    start = lines.index("# [providers.ollama]")
    block = "\n".join(line.removeprefix("# ") for line in lines[start : lines.index("", start)])

    provider = providers_of(tomllib.loads(block)["providers"])["ollama"]

    assert provider.configured
    assert provider.capabilities.vision is False
    assert provider.settings.quirks.no_stream_options is False


def test_the_readme_examples_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers the README shows (Ollama, vLLM, LM Studio, OpenAI itself, Groq) are valid tables."""
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    section = README.read_text(encoding="utf-8").split("### Any OpenAI-compatible server", 1)[1].split("\n## ", 1)[0]
    (example,) = re.findall(r"```toml\n(.*?)```", section, re.DOTALL)[:1]
    tables = tomllib.loads(example)["providers"]

    providers = providers_of(tables)

    assert {"ollama", "vllm", "lmstudio", "openai", "groq"} <= set(providers)
    assert not providers["groq"].configured  # GROQ_API_KEY is not set here
