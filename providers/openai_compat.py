"""The shared OpenAI-dialect codec: any server that speaks OpenAI's chat API, with its common variants.

OpenRouter, DeepSeek and any other OpenAI-compatible server subclass `OpenAICompatibleProvider` and override
a hook or two. Everything a dialect may vary in is translated here, in one place each:

- request: `payload()` (the client's fields, `model` replaced, usage always requested on streams) and
  `adapt_fields()` for a dialect's rewrites;
- response: `adapt_completion()` / `adapt_chunk()` fold variant field names into OpenAI's (`reasoning`,
  DeepSeek's cache counters) and turn in-band failures (`finish_reason: "error"`, an `error` object in a
  200 body or a stream) into errors;
- errors: `error_from_response()` maps an upstream status and error body, in OpenAI's shape or
  OpenRouter's, to the router's error types.

Sending, reading, size limits, scrubbing the key and transport failures are `providers.transport`'s, which
any dialect's adapter composes the same way. Output invariants every provider shares (tool-call indexes,
`content: null`, one finish reason...) are not enforced here but in `app.normalise`, so they hold for
adapters of other dialects too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import msgspec
from msgspec import UnsetType

from providers.base import ModelInfo, Provider, ProviderSettings
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
from providers.schema import (
    UNSET,
    ChatCompletion,
    ChatCompletionChunk,
    ChoiceDelta,
    CompletionMessage,
    ErrorBody,
    ErrorEnvelope,
    PromptTokensDetails,
    Usage,
)
from providers.transport import UpstreamHTTP, retry_after

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Mapping

    from providers.request import ChatRequest
    from providers.schema import Message

__all__ = ["OpenAICompatibleProvider", "rewrite_messages"]

_completion_decoder = msgspec.json.Decoder(ChatCompletion)
_chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)
_error_decoder = msgspec.json.Decoder(ErrorEnvelope)


class ModelEntry(msgspec.Struct):
    """One entry of a `GET /models` listing: OpenAI's fields, and OpenRouter's when it sends them."""

    id: str
    created: int = 0
    owned_by: str | None = None
    context_length: int | None = None
    supported_parameters: list[str] | None = None
    architecture: dict[str, Any] | None = None


class _ModelListing(msgspec.Struct):
    data: list[ModelEntry]
    links: dict[str, str | None] | None = None  # OpenRouter pages its list: `links.next`


_models_decoder = msgspec.json.Decoder(_ModelListing)
_messages_decoder = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_MAX_MODEL_PAGES = 50

# Finish reasons some dialects use to report a failure in place of an answer, and what they mean.
_AUTH_CODES = frozenset({"invalid_api_key", "authentication", "unauthorized"})
# Structured codes that mean "not this target" rather than "not this request".
_CANNOT_SERVE_CODES = frozenset(
    {"context_length_exceeded", "model_not_found", "free_variant_ended", "model_not_available"}
)
_FAILED_FINISH: dict[str, type[UpstreamError]] = {
    "error": UpstreamError,
    "insufficient_system_resource": UpstreamUnavailable,
}


class OpenAICompatibleProvider(Provider):
    """An adapter for a server that speaks OpenAI's chat completions API."""

    chat_path: ClassVar[str] = "/chat/completions"
    models_path: ClassVar[str] = "/models"

    def __init__(self, settings: ProviderSettings, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(settings, transport)
        self.http = UpstreamHTTP(
            self.name, transport, settings, headers=self.headers(), error_from_response=self.error_from_response
        )
        self._chat_url = httpx.URL(self._url(self.chat_path))

    # ------------------------------------------------------------------------------------------- request

    def headers(self) -> dict[str, str]:
        """Headers for every upstream request (authentication and any a dialect adds)."""
        headers = {"content-type": "application/json"}
        if self.settings.api_key is not None:
            headers["authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        return headers

    def adapt_fields(self, request: ChatRequest) -> dict[str, Any]:
        """Top-level fields a dialect must rewrite for this request (none by default)."""
        return {}

    def payload(self, request: ChatRequest, model: str, *, stream: bool) -> bytes:
        overrides = self.adapt_fields(request)
        if stream:
            # Usage is always requested, whatever the client asked: the router needs it, and strips it
            # again when the client did not ask (see app.normalise).
            options = request.params.stream_options
            obfuscation = options.include_obfuscation if options else UNSET
            overrides["stream_options"] = {"include_usage": True}
            if obfuscation is not UNSET:
                overrides["stream_options"]["include_obfuscation"] = obfuscation
        return request.upstream_body(model, **overrides)

    # ------------------------------------------------------------------------------------------- calls

    async def complete(self, request: ChatRequest, model: str) -> ChatCompletion:
        content = await self.http.fetch(self._chat_url, self.payload(request, model, stream=False))
        try:
            # DeepSeek sends blank keep-alive lines before the body while a request is queued.
            completion = _completion_decoder.decode(content.lstrip())
        except msgspec.DecodeError as exc:
            raise UpstreamProtocolError(
                f"{self.name} returned a response that is not a chat completion ({exc}).", provider=self.name
            ) from None
        self.adapt_completion(completion)
        return completion

    async def stream(self, request: ChatRequest, model: str) -> AsyncGenerator[ChatCompletionChunk, None]:
        """The chunks of an SSE answer. It ends well at `[DONE]` after an answer, or when a finished one closes."""
        answered = finished = False
        async with self.http.stream(self._chat_url, self.payload(request, model, stream=True)) as events:
            async for event in events:
                if event.data == b"[DONE]":
                    if not answered:
                        raise UpstreamProtocolError(
                            f"{self.name} ended the stream without an answer.", provider=self.name
                        )
                    await self.http.drain(events)
                    return
                chunk = self._decode_chunk(event.data)
                if event.event == "error" and chunk.error is UNSET:
                    raise self.error_from_body(502, ErrorBody(message=event.data.decode(errors="replace")))
                self.adapt_chunk(chunk)
                answered = True
                finished = finished or any(choice.finish_reason is not None for choice in chunk.choices)
                yield chunk
        if not finished:
            raise UpstreamConnectionError(
                f"{self.name} closed the stream before the answer was finished.", provider=self.name
            )

    async def list_models(self) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        url: httpx.URL | None = httpx.URL(self._url(self.models_path))
        for _ in range(_MAX_MODEL_PAGES):
            if url is None:
                break
            content = await self.http.fetch(url)
            try:
                listing = _models_decoder.decode(content.lstrip())
            except msgspec.DecodeError as exc:
                raise UpstreamProtocolError(
                    f"{self.name} returned an invalid model list ({exc}).", provider=self.name
                ) from None
            models += [self.model_info(entry) for entry in listing.data]
            following = (listing.links or {}).get("next")
            url = url.join(following) if following else None
        return models

    def model_info(self, entry: ModelEntry) -> ModelInfo:
        """What one listing entry says about a model; dialects that list capabilities override this."""
        return ModelInfo(id=entry.id, created=entry.created, owned_by=entry.owned_by or self.name)

    # ------------------------------------------------------------------------------------------ response

    def adapt_completion(self, completion: ChatCompletion) -> None:
        """Fold dialect variants into OpenAI's fields and raise for failures reported in a 200 body."""
        for choice in completion.choices:
            self._raise_if_failed(choice.finish_reason, choice.error)
            _fold_reasoning(choice.message)
        if completion.usage:
            _fold_usage(completion.usage)

    def adapt_chunk(self, chunk: ChatCompletionChunk) -> None:
        """The same as `adapt_completion`, for one stream chunk."""
        if chunk.error is not UNSET:
            raise self._in_band_error(None, chunk.error)
        for choice in chunk.choices:
            self._raise_if_failed(choice.finish_reason, choice.error)
            _fold_reasoning(choice.delta)
        if chunk.usage:
            _fold_usage(chunk.usage)

    # --------------------------------------------------------------------------------------------- errors

    def error_from_response(self, status: int, content: bytes, headers: Mapping[str, str]) -> UpstreamError:
        """The one place an upstream's HTTP error becomes a router error (`content` is scrubbed already)."""
        try:
            body = _error_decoder.decode(content.lstrip()).error
        except msgspec.DecodeError:  # ValidationError is a DecodeError
            body = ErrorBody(message=content[:500].decode("utf-8", "replace").strip())
        return self.error_from_body(status, body, retry_after=retry_after(headers))

    def error_from_body(self, status: int, body: ErrorBody, retry_after: float | None = None) -> UpstreamError:
        """Map a status and an error body (OpenAI's shape or OpenRouter's) to a router error."""
        message = body.message or f"HTTP {status}"
        code = _structured_code(body)
        said = f"{self.name} answered {status}: {message}"
        if status == 401 or (status == 403 and code in _AUTH_CODES):
            return UpstreamAuthFailed(
                f"{self.name} rejected the router's API key{self._key_hint()}; the key you sent the "
                f"router is fine. Upstream said: {message}",
                provider=self.name,
            )
        if status == 429:
            return UpstreamRateLimited(said, provider=self.name, code=code, retry_after=retry_after)
        if status == 402:
            return UpstreamPaymentRequired(
                f"{self.name} refused the request for lack of credit on the router's account: {message}",
                provider=self.name,
            )
        if status in (408, 504, 524):
            return UpstreamTimeout(said, provider=self.name, code=code)
        if status in (503, 529):
            return UpstreamUnavailable(said, provider=self.name, code=code, retry_after=retry_after)
        if status == 404 or code in _CANNOT_SERVE_CODES:
            # A chat request that 404s names a model (or model and parameters) this upstream cannot serve.
            return UpstreamCannotServe(said, provider=self.name, code=code or "model_not_found", status=status)
        if 400 <= status < 500:
            return UpstreamRejected(said, provider=self.name, code=code, status=status)
        return UpstreamError(said, provider=self.name, code=code)

    def _raise_if_failed(self, finish_reason: str | None, error: ErrorBody | UnsetType) -> None:
        if error is not UNSET or finish_reason in _FAILED_FINISH:
            raise self._in_band_error(finish_reason, error)

    def _in_band_error(self, finish_reason: str | None, body: ErrorBody | Any) -> UpstreamError:
        body = body if isinstance(body, ErrorBody) else ErrorBody(message=f"finish_reason {finish_reason!r}")
        if isinstance(body.code, int) and 400 <= body.code < 600:
            return self.error_from_body(body.code, body)
        error = _FAILED_FINISH.get(finish_reason or "", UpstreamError)
        return error(
            f"{self.name} failed while answering: {body.message}",
            provider=self.name,
            code=_structured_code(body),
        )

    # -------------------------------------------------------------------------------------------- helpers

    def _url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path

    def _decode_chunk(self, data: bytes) -> ChatCompletionChunk:
        try:
            return _chunk_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise UpstreamProtocolError(
                f"{self.name} sent a stream event that is not a chat completion chunk ({exc}).",
                provider=self.name,
            ) from None

    def _key_hint(self) -> str:
        return f" (set by {self.api_key_env})" if self.api_key_env else ""


def rewrite_messages(
    request: ChatRequest,
    applies: Callable[[Message], bool],
    rewrite: Callable[[dict[str, msgspec.Raw]], None],
) -> dict[str, Any]:
    """`{"messages": [...]}` with `rewrite` applied to the messages `applies` selects, or `{}` if none.

    Only the selected messages are touched; every other message, and every key the router does not
    know, goes upstream as the client's own JSON.
    """
    selected = [applies(message) for message in request.params.messages]
    if not any(selected):
        return {}
    messages = _messages_decoder.decode(request.fields["messages"])
    for message, chosen in zip(messages, selected, strict=True):
        if chosen:
            rewrite(message)
    return {"messages": messages}


def _fold_reasoning(part: CompletionMessage | ChoiceDelta) -> None:
    """Move OpenRouter's `reasoning` into `reasoning_content`, the name clients and DeepSeek use."""
    if part.reasoning is not UNSET:
        if part.reasoning_content is UNSET:
            part.reasoning_content = part.reasoning
        part.reasoning = UNSET


def _fold_usage(usage: Usage) -> None:
    """Move DeepSeek's cache counters into OpenAI's `prompt_tokens_details`, and drop counters sent as null."""
    hits = usage.prompt_cache_hit_tokens
    if isinstance(hits, int):
        details = usage.prompt_tokens_details
        if not details:
            usage.prompt_tokens_details = PromptTokensDetails(cached_tokens=hits)
        elif not isinstance(details.cached_tokens, int):
            details.cached_tokens = hits
    usage.prompt_cache_hit_tokens = UNSET
    usage.prompt_cache_miss_tokens = UNSET
    usage.prompt_tokens = usage.prompt_tokens or 0
    usage.completion_tokens = usage.completion_tokens or 0
    usage.total_tokens = usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
    _drop_nulls(usage.prompt_tokens_details)
    _drop_nulls(usage.completion_tokens_details)


def _drop_nulls(details: msgspec.Struct | None | UnsetType) -> None:
    if isinstance(details, msgspec.Struct):
        for name in details.__struct_fields__:
            if getattr(details, name) is None:
                setattr(details, name, UNSET)


def _structured_code(body: ErrorBody) -> str | None:
    """A string error code: OpenAI's `code`, or OpenRouter's typed `metadata.error_type`."""
    if isinstance(body.code, str):
        return body.code
    metadata = body.metadata
    if isinstance(metadata, dict) and isinstance(metadata.get("error_type"), str):
        return str(metadata["error_type"])
    return None
