"""Anthropic: the Messages API (`POST /v1/messages`), a dialect of its own, behind the provider contract.

Models route as `anthropic/<model id>` (`anthropic/claude-sonnet-4-5`). The request is translated by
`providers.anthropic_request`, the answer and its stream read by `providers.anthropic_answer`; this module
sends them through the shared transport with Anthropic's headers (`x-api-key`, `anthropic-version`,
`anthropic-beta` when configured), lists the models, and maps Anthropic's errors in one place
(`error_for`), whether they come as an HTTP answer or as a stream's `error` event:

    400 invalid_request_error   400, passed on; "prompt is too long" is `context_length_exceeded`, which
                                routing treats as this target being unable to serve (it moves on)
    401 authentication_error    502: the router's own key was refused, naming ANTHROPIC_API_KEY
    402 billing_error           503: no credit on the router's account
    403 permission_error        403: the router's key may not use this model; another target may
    404 not_found_error         404: no such model here; routing moves on
    413 request_too_large       413, passed on
    429 rate_limit_error        429 with Retry-After
    500 api_error               502
    504 timeout_error           504
    529 overloaded_error        503, retried, with Retry-After when given
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import msgspec
from pydantic import Field, PositiveInt
from pydantic_settings import SettingsConfigDict

from providers.anthropic_answer import AnswerStream, Event, ReadMessage, completion
from providers.anthropic_request import encode_request
from providers.base import Capabilities, ModelInfo, Provider, ProviderSettings
from providers.errors import (
    UpstreamAuthFailed,
    UpstreamCannotServe,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamPaymentRequired,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from providers.transport import UpstreamHTTP, retry_after

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping

    from providers.request import ChatRequest
    from providers.schema import ChatCompletion, ChatCompletionChunk

__all__ = ["AnthropicProvider", "AnthropicSettings"]

T = TypeVar("T")

_message_decoder = msgspec.json.Decoder(ReadMessage)
_event_decoder = msgspec.json.Decoder(Event)
_MAX_MODEL_PAGES = 50

# Statuses of the error types a stream's `error` event names (docs.claude.com/en/api/errors).
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
# Anthropic gives a prompt over the context window no code of its own: a plain 400 whose message starts so.
_PROMPT_TOO_LONG = "prompt is too long"


class AnthropicSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="ANTHROPIC_")

    base_url: str = "https://api.anthropic.com"
    version: str = "2023-06-01"
    """Sent as `anthropic-version`."""
    beta: list[str] = Field(default_factory=list)
    """Beta features to turn on, sent as `anthropic-beta` (for example `["context-1m-2025-08-07"]`)."""
    default_max_tokens: PositiveInt = 4096
    """`max_tokens` for a request that sets neither `max_tokens` nor `max_completion_tokens`: Anthropic
    requires one, and every Claude model can give 4096. A thinking budget is added to it."""


class ModelEntry(msgspec.Struct):
    """One model of `GET /v1/models`: its id, release date, context window and capabilities."""

    id: str
    created_at: str = ""
    max_input_tokens: int | None = None
    capabilities: dict[str, Any] | None = None


class ModelPage(msgspec.Struct):
    data: list[ModelEntry]
    has_more: bool = False
    last_id: str | None = None


_page_decoder = msgspec.json.Decoder(ModelPage)


class AnthropicProvider(Provider):
    name = "anthropic"
    settings_class = AnthropicSettings
    capabilities = Capabilities(tools=True, streaming=True, json_schema=True, vision=True)
    api_key_env = "ANTHROPIC_API_KEY"

    def __init__(self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(settings, transport)
        assert isinstance(settings, AnthropicSettings)
        self.default_max_tokens = settings.default_max_tokens
        headers = {"content-type": "application/json", "anthropic-version": settings.version}
        if settings.api_key is not None:
            headers["x-api-key"] = settings.api_key.get_secret_value()
        if settings.beta:
            headers["anthropic-beta"] = ",".join(settings.beta)
        self.http = UpstreamHTTP(
            self.name, transport, settings, headers=headers, error_from_response=self.error_from_response
        )
        self._base = settings.base_url.rstrip("/")
        self._messages_url = httpx.URL(self._base + "/v1/messages")

    # ---------------------------------------------------------------------------------------------- calls

    async def complete(self, request: ChatRequest, model: str) -> ChatCompletion:
        body = encode_request(request, model, stream=False, default_max_tokens=self.default_max_tokens)
        content = await self.http.fetch(self._messages_url, body)
        message = self._decode(_message_decoder, content, "a message")
        if message.type == "error":
            raise self._error_event(self._decode(_event_decoder, content, "an error"))
        return completion(message)

    async def stream(self, request: ChatRequest, model: str) -> AsyncGenerator[ChatCompletionChunk, None]:
        """The chunks of an answer's events. It ends well at `message_stop`, or when a finished answer closes."""
        body = encode_request(request, model, stream=True, default_max_tokens=self.default_max_tokens)
        answer = AnswerStream(created=int(time.time()))
        async with self.http.stream(self._messages_url, body) as events:
            async for event in events:
                parsed = self._decode(_event_decoder, event.data, "a stream event")
                if parsed.type == "error":
                    raise self._error_event(parsed)
                chunk = answer.feed(parsed)
                if chunk is not None:
                    yield chunk
                if answer.stopped:
                    await self.http.drain(events)
                    break
        if not answer.finished:
            raise UpstreamConnectionError(
                f"{self.name} closed the stream before the answer was finished.", provider=self.name
            )

    async def list_models(self) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        after: str | None = None
        for _ in range(_MAX_MODEL_PAGES):
            params = {"limit": "1000", **({"after_id": after} if after else {})}
            page = self._decode(_page_decoder, await self.http.fetch(self._url("/v1/models", params)), "a model list")
            models += [self._model_info(entry) for entry in page.data]
            if not page.has_more or not page.last_id:
                break
            after = page.last_id
        return models

    def _model_info(self, entry: ModelEntry) -> ModelInfo:
        """What one listing entry says of a model: its context window, and what it can do when it says."""
        capabilities = None
        if entry.capabilities is not None:
            capabilities = Capabilities(
                tools=True,
                streaming=True,
                json_schema=_says(entry.capabilities, "structured_outputs"),
                vision=_says(entry.capabilities, "image_input"),
            )
        return ModelInfo(
            id=entry.id,
            created=_epoch(entry.created_at),
            owned_by=self.name,
            context_length=entry.max_input_tokens,
            capabilities=capabilities,
        )

    # --------------------------------------------------------------------------------------------- errors

    def error_from_response(self, status: int, content: bytes, headers: Mapping[str, str]) -> UpstreamError:
        """An HTTP error answer (`content` is scrubbed already) as a router error."""
        try:
            body = _event_decoder.decode(content)
        except msgspec.DecodeError:
            body = None
        error = body.error if body is not None else None
        if error is None:
            message = content[:500].decode("utf-8", "replace").strip()
            return self.error_for(status, None, message, retry_after(headers), headers.get("request-id"))
        request_id = (body.request_id if body else None) or headers.get("request-id")
        return self.error_for(status, error.type, error.message, retry_after(headers), request_id)

    def error_for(
        self, status: int, kind: str | None, message: str, wait: float | None = None, request_id: str | None = None
    ) -> UpstreamError:
        """The one place Anthropic's errors (a status, an error type, its message) become the router's."""
        message = message or f"HTTP {status}"
        said = f"{self.name} answered {status}{f' {kind}' if kind else ''}: {message}"
        if request_id:
            said += f" (request {request_id})"
        name = self.name
        if status == 401 or kind == "authentication_error":
            return UpstreamAuthFailed(
                f"{name} rejected the router's API key (set by {self.api_key_env}); the key you sent the router "
                f"is fine. Upstream said: {message}",
                provider=name,
            )
        if status == 429 or kind == "rate_limit_error":
            return UpstreamRateLimited(said, provider=name, code=kind, retry_after=wait)
        if status == 402 or kind == "billing_error":
            return UpstreamPaymentRequired(
                f"{name} refused the request for lack of credit on the router's account: {message}", provider=name
            )
        if status in (503, 529) or kind == "overloaded_error":
            return UpstreamUnavailable(said, provider=name, code=kind or "overloaded_error", retry_after=wait)
        if status == 504 or kind == "timeout_error":
            return UpstreamTimeout(said, provider=name, code=kind)
        if status == 404 or kind == "not_found_error":
            return UpstreamCannotServe(said, provider=name, code="model_not_found", status=404)
        if status == 403 or kind == "permission_error":
            return UpstreamCannotServe(said, provider=name, code=kind or "permission_error", status=403)
        if status == 400 and message.startswith(_PROMPT_TOO_LONG):
            return UpstreamCannotServe(said, provider=name, code="context_length_exceeded", status=400)
        if 400 <= status < 500:
            return UpstreamRejected(said, provider=name, code=kind, status=status)
        return UpstreamError(said, provider=name, code=kind)

    def _error_event(self, event: Event) -> UpstreamError:
        """A stream's `error` event (or an error body answered with 200) as a router error."""
        kind = event.error.type if event.error else "api_error"
        message = event.error.message if event.error else ""
        return self.error_for(_STATUS_OF_TYPE.get(kind, 500), kind, message, request_id=event.request_id)

    # -------------------------------------------------------------------------------------------- helpers

    def _url(self, path: str, params: dict[str, str]) -> httpx.URL:
        return httpx.URL(self._base + path, params=params)

    def _decode(self, decoder: msgspec.json.Decoder[T], content: bytes, what: str) -> T:
        try:
            return decoder.decode(content)
        except msgspec.DecodeError as exc:
            raise UpstreamProtocolError(
                f"{self.name} sent something that is not {what} ({exc}).", provider=self.name
            ) from None


def _says(capabilities: dict[str, Any], name: str) -> bool:
    """Whether a model's listed capability `name` is `{"supported": true}`."""
    capability = capabilities.get(name)
    return isinstance(capability, dict) and capability.get("supported") is True


def _epoch(timestamp: str) -> int:
    """Seconds since the epoch of an RFC 3339 time (0 when there is none)."""
    try:
        return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0
