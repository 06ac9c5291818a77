"""The built-in offline provider: scripted models, `mock/<scenario>`, that need no key and no network.

It lets anyone try the whole tool loop with curl, and gives tests a provider with known behaviour:

    text          answers in text; with `response_format` json_schema, JSON valid against the schema; with
                  json_object, a JSON object keyed by the quoted words of the last user message
    tool          calls the tool `tool_choice` names, else the first tool, with arguments built from its
                  JSON schema; answers in text once the last message is a tool result
    parallel      calls every tool offered (the only one twice) in one turn, then answers in text
    noargs        calls the first tool with empty arguments
    rate-limited  fails with 429 and Retry-After
    server-error  fails as an upstream 500 would
    slow          answers like `text` after `MOCK_SLOW_SECONDS`
    stream-error  streams part of an answer, then fails (a plain request fails at once)

The failing scenarios are scripted: the router retries and falls back from them as from any upstream, but
they say nothing about the mock's health (`scripted`), so they never open its circuit or start a rate-limit
cooldown, and every request to a scenario goes the same way.

Argument values come from the last user message: strings from its first quoted text, numbers from its
first number, so `Create a customer named '你好'` yields `{"customer_name": "你好"}`.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from pydantic_settings import SettingsConfigDict

from providers.base import Capabilities, ModelInfo, Provider, ProviderSettings
from providers.errors import ModelNotFound, UpstreamError, UpstreamRateLimited
from providers.schema import (
    UNSET,
    AllowedToolsChoice,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    CompletionMessage,
    FunctionCall,
    FunctionTool,
    FunctionToolCall,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolCallDeltaFunction,
    ToolMessage,
    Usage,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from providers.request import ChatRequest
    from providers.schema import ChatCompletionRequest

__all__ = ["MockProvider", "MockSettings"]

SCENARIOS = ("text", "tool", "parallel", "noargs", "rate-limited", "server-error", "slow", "stream-error")
_QUOTED = re.compile(r"""'([^']+)'|"([^"]+)\"""")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_json = msgspec.json.Encoder()
_MAX_EXAMPLE_DEPTH = 16


class MockSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="MOCK_")

    slow_seconds: float = 3.0
    """How long `mock/slow` waits before answering."""


@dataclass(frozen=True, slots=True)
class _Turn:
    """What the mock says: text, or tool calls as (name, arguments) pairs."""

    text: str | None = None
    calls: tuple[tuple[str, str], ...] = ()
    finish_reason: str = "stop"


class MockProvider(Provider):
    name = "mock"
    settings_class = MockSettings
    capabilities = Capabilities()
    scripted = True
    created: ClassVar[int] = 1_700_000_000

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(id=scenario, created=self.created, owned_by="llm-router") for scenario in SCENARIOS]

    async def complete(self, request: ChatRequest, model: str) -> ChatCompletion:
        turn = await self._turn(request.params, model)
        if model == "stream-error":
            raise UpstreamError("The mock upstream failed while answering (stream-error).", provider=self.name)
        tool_calls: list[ToolCall] = [
            FunctionToolCall(id=_call_id(), function=FunctionCall(name=name, arguments=arguments))
            for name, arguments in turn.calls
        ]
        message = CompletionMessage(content=turn.text, tool_calls=tool_calls or UNSET)
        return ChatCompletion(
            id=_completion_id(),
            created=int(time.time()),
            model=f"mock/{model}",
            choices=[Choice(index=0, message=message, finish_reason=turn.finish_reason)],
            usage=_usage(request.params, turn),
        )

    async def stream(self, request: ChatRequest, model: str) -> AsyncGenerator[ChatCompletionChunk, None]:
        turn = await self._turn(request.params, model)
        chunk = _ChunkFactory(_completion_id(), f"mock/{model}")
        yield chunk(ChoiceDelta(role="assistant", content="" if turn.text is not None else None))
        if turn.text is not None:
            for position, piece in enumerate(re.findall(r"\s*\S+", turn.text) or [turn.text]):
                if model == "stream-error" and position == 3:
                    raise UpstreamError("The mock upstream failed mid-stream (stream-error).", provider=self.name)
                yield chunk(ChoiceDelta(content=piece))
        for index, (name, arguments) in enumerate(turn.calls):
            first = ToolCallDelta(
                index=index,
                id=_call_id(),
                type="function",
                function=ToolCallDeltaFunction(name=name, arguments=""),
            )
            yield chunk(ChoiceDelta(tool_calls=[first]))
            # Fragments split mid-token, as real upstreams split them.
            for start in range(0, len(arguments), 7):
                fragment = ToolCallDeltaFunction(arguments=arguments[start : start + 7])
                yield chunk(ChoiceDelta(tool_calls=[ToolCallDelta(index=index, function=fragment)]))
        yield chunk(ChoiceDelta(), finish_reason=turn.finish_reason)
        yield chunk.usage(_usage(request.params, turn))

    async def _turn(self, params: ChatCompletionRequest, model: str) -> _Turn:
        if model not in SCENARIOS:
            raise ModelNotFound(
                f"The mock provider has no scenario {model!r}. Scenarios: "
                + ", ".join(f"mock/{s}" for s in SCENARIOS)
                + "."
            )
        if model == "rate-limited":
            raise UpstreamRateLimited(
                "The mock upstream is rate limited (rate-limited).", provider=self.name, retry_after=1
            )
        if model == "server-error":
            raise UpstreamError("The mock upstream answered 500 (server-error).", provider=self.name)
        if model == "slow":
            settings = self.settings
            assert isinstance(settings, MockSettings)
            await asyncio.sleep(settings.slow_seconds)
        tools = _offered_tools(params)
        last = params.messages[-1]
        if model in ("tool", "parallel", "noargs") and tools and not isinstance(last, ToolMessage):
            return _Turn(calls=_calls(model, params, tools), finish_reason="tool_calls")
        if isinstance(last, ToolMessage):
            return _limit(f"The tool returned: {_text(last)}", params)
        return _limit(_answer(params), params)


class _ChunkFactory:
    """Builds the chunks of one mock stream, all with the same id, time and model."""

    def __init__(self, completion_id: str, model: str) -> None:
        self.id, self.model, self.created = completion_id, model, int(time.time())

    def __call__(self, delta: ChoiceDelta, finish_reason: str | None = None) -> ChatCompletionChunk:
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)
        return ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=[choice])

    def usage(self, usage: Usage) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=[], usage=usage)


def _offered_tools(params: ChatCompletionRequest) -> list[FunctionTool]:
    tools = [tool for tool in params.tools or () if isinstance(tool, FunctionTool)]
    choice = params.tool_choice
    if choice == "none":
        return []
    if isinstance(choice, NamedToolChoice):
        return [tool for tool in tools if tool.function.name == choice.function.name]
    if isinstance(choice, AllowedToolsChoice):
        allowed = {ref.get("function", {}).get("name") for ref in choice.allowed_tools.tools}
        return [tool for tool in tools if tool.function.name in allowed]
    return tools


def _calls(model: str, params: ChatCompletionRequest, tools: list[FunctionTool]) -> tuple[tuple[str, str], ...]:
    if model == "noargs":
        return ((tools[0].function.name, ""),)
    hints = _Hints.of(params.messages)
    chosen = tools if model == "parallel" else tools[:1]
    if model == "parallel" and len(chosen) == 1:
        chosen = chosen * 2
    return tuple(
        (tool.function.name, _json.encode(_example(tool.function.parameters or {"type": "object"}, hints)).decode())
        for tool in chosen
    )


def _answer(params: ChatCompletionRequest) -> str:
    """The text answer, or a JSON document when `response_format` asks for one."""
    response_format = params.response_format
    if isinstance(response_format, JsonSchemaFormat):
        schema = response_format.json_schema.schema or {}
        return _json.encode(_example(schema, _Hints.of(params.messages))).decode()
    said = _text(_last_user(params.messages)) or "nothing"
    if isinstance(response_format, JsonObjectFormat):
        # "Answer with 'setup' and 'punchline' keys" gets exactly those keys.
        keys = [quoted[0] or quoted[1] for quoted in _QUOTED.findall(said)] or ["answer"]
        return _json.encode(dict.fromkeys(keys, "Hello from the llm-router mock provider.")).decode()
    return f"Hello from the llm-router mock provider. You said: {said}"


def _limit(text: str, params: ChatCompletionRequest) -> _Turn:
    """Apply `stop` sequences and the token limit (one word counts as one token)."""
    stops = [params.stop] if isinstance(params.stop, str) else params.stop or []
    for stop in stops:
        if stop and stop in text:
            text = text[: text.index(stop)]
    limit = params.max_completion_tokens or params.max_tokens
    words = text.split(" ")
    if isinstance(limit, int) and len(words) > limit:
        return _Turn(text=" ".join(words[:limit]), finish_reason="length")
    return _Turn(text=text)


@dataclass(frozen=True, slots=True)
class _Hints:
    """Values for generated arguments, taken from the last user message."""

    string: str | None
    number: float | None

    @classmethod
    def of(cls, messages: list[Message]) -> _Hints:
        text = _text(_last_user(messages))
        quoted = _QUOTED.search(text)
        number = _NUMBER.search(text)
        return cls(
            string=(quoted[1] or quoted[2]) if quoted else None,
            number=float(number[0]) if number else None,
        )


def _example(schema: dict[str, Any], hints: _Hints, root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value valid against a (tool parameters or response format) JSON schema.

    A schema that requires itself (`{"$ref": "#"}` as a required property) has no finite valid value: past
    `_MAX_EXAMPLE_DEPTH` levels the example stops with an empty object rather than recurse forever.
    """
    root = root if root is not None else schema
    if depth > _MAX_EXAMPLE_DEPTH:
        return {}
    depth += 1
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if part else target
        return _example(target, hints, root, depth)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [option for option in schema.get(key, ()) if option.get("type") != "null"]
        if options:
            return _example(options[0], hints, root, depth)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        required = schema.get("required", list(properties))
        return {name: _example(sub, hints, root, depth) for name, sub in properties.items() if name in required}
    if kind == "array":
        return [_example(schema.get("items", {}), hints, root, depth)]
    if kind == "integer":
        return int(hints.number) if hints.number is not None else schema.get("minimum", 1)
    if kind == "number":
        return hints.number if hints.number is not None else schema.get("minimum", 1.5)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return hints.string if hints.string is not None else "example"


def _last_user(messages: list[Message]) -> Message | None:
    return next((m for m in reversed(messages) if isinstance(m, UserMessage)), None)


def _text(message: Message | None) -> str:
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.text for part in content if isinstance(part, TextPart))
    return ""


def _usage(params: ChatCompletionRequest, turn: _Turn) -> Usage:
    prompt = max(1, sum(len(_text(message).split()) for message in params.messages))
    completion = len((turn.text or "").split()) + sum(max(1, len(args) // 4) for _, args in turn.calls)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _completion_id() -> str:
    return f"chatcmpl-mock{uuid.uuid4().hex[:20]}"


def _call_id() -> str:
    return f"call_mock{uuid.uuid4().hex[:20]}"
