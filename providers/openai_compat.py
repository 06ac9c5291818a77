"""The shared OpenAI-dialect codec: any server that speaks OpenAI's chat API, with its common variants.

OpenRouter, DeepSeek and any other OpenAI-compatible server subclass `OpenAICompatibleProvider` and override
a hook or two. Everything a dialect may vary in is translated here, in one place each:

- request: `payload()` (the client's fields, `model` replaced, usage always requested on streams) and
  `adapt_fields()` for a dialect's rewrites;
- response: `adapt_completion()` / `adapt_chunk()` fold variant field names into OpenAI's (`reasoning`,
  DeepSeek's cache counters) and turn in-band failures (`finish_reason: "error"`, an `error` object in a
  200 body or a stream) into errors;
- errors: `error_from_response()` maps an upstream status and error body, in OpenAI's shape or
  OpenRouter's, to the router's error types; `_transport_errors()` does the same for httpx's exceptions.

Output invariants every provider shares (tool-call indexes, `content: null`, one finish reason...) are not
enforced here but in `app.normalise`, so they hold for adapters of other dialects too.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import time
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
from providers.sse import ServerSentEvent, iter_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping

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
# A server that keeps a stream open after `[DONE]` gets this long before its connection is dropped instead.
_DRAIN_SECONDS = 1.0

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
        timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0))
        self._extensions = {"timeout": timeout.as_dict()}
        self._chat_url = httpx.URL(self._url(self.chat_path))

    # ------------------------------------------------------------------------------------------- request

    @functools.cached_property
    def _headers(self) -> dict[str, str]:
        return self.headers()

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
        content = await self._read(await self._send(self._chat_url, self.payload(request, model, stream=False)))
        try:
            # DeepSeek sends blank keep-alive lines before the body while a request is queued.
            completion = _completion_decoder.decode(content.lstrip())
        except msgspec.DecodeError as exc:
            raise UpstreamProtocolError(
                f"{self.name} returned a response that is not a chat completion ({exc}).", provider=self.name
            ) from None
        self.adapt_completion(completion)
        return completion

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[ChatCompletionChunk]:
        response = await self._send(self._chat_url, self.payload(request, model, stream=True))
        try:
            with self._transport_errors():
                await self._check_stream(response)
                async for chunk in self._chunks(response):
                    yield chunk
        finally:
            await response.aclose()

    async def _send(self, url: httpx.URL, body: bytes | None = None) -> httpx.Response:
        """Send one request upstream (POST with a body, GET without); the answer's body is still to read."""
        method = "POST" if body is not None else "GET"
        upstream = httpx.Request(method, url, content=body, headers=self._headers, extensions=self._extensions)
        with self._transport_errors():
            return await self.transport.handle_async_request(upstream)

    async def _read(self, response: httpx.Response) -> bytes:
        """A whole answer's body, or the router's error for it when the upstream refused the request."""
        with self._transport_errors():
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        if response.status_code >= 400:
            raise self.error_from_response(response.status_code, content, response.headers)
        return content

    async def _check_stream(self, response: httpx.Response) -> None:
        """Raise for a stream request that was refused, or answered with something other than SSE."""
        if response.status_code >= 400:
            await response.aread()
            raise self.error_from_response(response.status_code, response.content, response.headers)
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            await response.aread()
            raise UpstreamProtocolError(
                f"{self.name} answered a stream request with {content_type!r}, not server-sent events: "
                f"{response.content[:200].decode('utf-8', 'replace')!r}",
                provider=self.name,
            )

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[ChatCompletionChunk]:
        """The chunks of an SSE body. It ends well at `[DONE]` after an answer, or when a finished one closes."""
        answered = finished = False
        events = iter_events(response.aiter_bytes())
        async for event in events:
            if event.data == b"[DONE]":
                if answered:
                    await _drain(events)
                    return
                raise UpstreamProtocolError(f"{self.name} ended the stream without an answer.", provider=self.name)
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
            content = await self._read(await self._send(url))
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
        """The one place an upstream's HTTP error becomes a router error."""
        try:
            body = _error_decoder.decode(content.lstrip()).error
        except msgspec.DecodeError:  # ValidationError is a DecodeError
            body = ErrorBody(message=content[:500].decode("utf-8", "replace").strip())
        return self.error_from_body(status, body, retry_after=_retry_after(headers))

    def error_from_body(self, status: int, body: ErrorBody, retry_after: float | None = None) -> UpstreamError:
        """Map a status and an error body (OpenAI's shape or OpenRouter's) to a router error."""
        message = self._scrub(body.message) or f"HTTP {status}"
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
            f"{self.name} failed while answering: {self._scrub(body.message)}",
            provider=self.name,
            code=_structured_code(body),
        )

    @contextlib.contextmanager
    def _transport_errors(self) -> Iterator[None]:
        """Translate httpx's exceptions into the router's, like httpx does for httpcore's."""
        try:
            yield
        except httpx.TimeoutException as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
                # aiohttp's transport reports a refused connection as a connect timeout; it is not one.
                raise UpstreamConnectionError(f"Could not connect to {self.name}.", provider=self.name) from None
            raise UpstreamTimeout(
                f"{self.name} did not answer in time ({type(exc).__name__}).", provider=self.name
            ) from None
        except httpx.ConnectError:
            raise UpstreamConnectionError(f"Could not connect to {self.name}.", provider=self.name) from None
        except httpx.HTTPError as exc:
            raise UpstreamConnectionError(
                f"The connection to {self.name} failed ({type(exc).__name__}).", provider=self.name
            ) from None

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

    def _scrub(self, text: str) -> str:
        """Remove the router's key from upstream text (some upstreams quote the key they rejected)."""
        key = self.settings.api_key
        secret = key.get_secret_value() if key else ""
        return text.replace(secret, "[redacted]") if secret else text

    def _key_hint(self) -> str:
        return f" (set by {self.api_key_env})" if self.api_key_env else ""


async def _drain(events: AsyncIterator[ServerSentEvent]) -> None:
    """Read a stream to the end of its body after `[DONE]`, so its connection can serve the next request."""
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for _ in events:
                pass


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


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from a `Retry-After` header in seconds or as an HTTP date."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
