"""POST /v1/chat/completions: decode, route, normalise, answer (as JSON or as server-sent events)."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import msgspec
from litestar import Request, Response, post
from litestar.response import Stream

from app.access.gate import admit, estimate_tokens
from app.context import current
from app.errors import router_error_body
from app.normalise import StreamNormaliser, normalise_completion
from app.routing import Overrides
from app.services import services
from app.sse import DONE, encode_chunk, encode_data
from providers.errors import InvalidRequest, RouterError
from providers.request import ChatRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping

    from app.context import RequestContext
    from app.routing import ChunkStream, Routed, Router, RouteTarget

__all__ = [
    "MAX_ATTEMPTS_HEADER",
    "TIMEOUT_HEADER",
    "complete",
    "create_chat_completion",
    "event_stream",
    "request_overrides",
    "route_headers",
    "start_stream",
]

TIMEOUT_HEADER = "x-llm-router-timeout"
MAX_ATTEMPTS_HEADER = "x-llm-router-max-attempts"
N = TypeVar("N", int, float)

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@post("/v1/chat/completions", status_code=200)
async def create_chat_completion(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
    chat_request = ChatRequest.decode(await request.body())
    found = services(request)
    context = current()
    context.model = chat_request.params.model
    await admit(found.limiter, _requested_models(chat_request), estimate_tokens(chat_request))
    router = found.router
    overrides = request_overrides(request.headers)
    if chat_request.params.stream:
        stream = await start_stream(router, chat_request, overrides, context)
        return event_stream(_events(stream, context, include_usage=chat_request.params.include_usage), stream)
    routed = await complete(router, chat_request, overrides, context)
    return Response(
        _encoder.encode(routed.completion),
        media_type="application/json",
        headers=route_headers(routed.target, routed.attempts),
    )


async def start_stream(
    router: Router, request: ChatRequest, overrides: Overrides | None, context: RequestContext
) -> ChunkStream:
    """Open a routed stream for this request, closed when the request ends whatever happens to its body."""
    stream = await router.open_stream(request, overrides)
    context.on_close(stream.aclose)
    context.served(stream.target.name)
    context.stream = True
    return stream


async def complete(
    router: Router, request: ChatRequest, overrides: Overrides | None, context: RequestContext
) -> Routed:
    """A routed, normalised answer for this request, counted in its context."""
    routed = await router.complete(request, overrides)
    context.served(routed.target.name)
    context.count_completion(normalise_completion(routed.completion))
    return routed


def event_stream(body: AsyncIterator[bytes], stream: ChunkStream) -> Stream:
    """The server-sent events response for a routed stream."""
    return Stream(
        body, media_type="text/event-stream", headers=_SSE_HEADERS | route_headers(stream.target, stream.attempts)
    )


def _requested_models(request: ChatRequest) -> Iterator[tuple[str, str]]:
    """Every model the request may reach, with its `param`: `model`, and each name in its `models` list
    (the router's fallback list, or OpenRouter's, which would reach those models upstream)."""
    yield request.params.model, "model"
    for position, name in enumerate(request.fallback_models()):
        yield name, f"models[{position}]"


async def _events(stream: ChunkStream, context: RequestContext, *, include_usage: bool) -> AsyncIterator[bytes]:
    """The SSE body: normalised chunks, then `[DONE]`; or an error event, never a clean finish, on failure."""
    normaliser = StreamNormaliser(include_usage=include_usage)
    try:
        async for chunk in stream:
            if (out := normaliser.feed(chunk)) is not None:
                yield encode_chunk(out)
        for out in normaliser.finish():
            yield encode_chunk(out)
        yield DONE
    except RouterError as exc:
        log.warning("stream from %s failed: %s", stream.target.name, exc.message)
        yield encode_data(router_error_body(exc))
    except Exception:
        log.exception("unexpected error in a stream from %s", stream.target.name)
        yield encode_data(
            b'{"error":{"message":"The router failed while streaming this answer.",'
            b'"type":"server_error","param":null,"code":"internal_error"}}'
        )
    finally:
        context.count_usage(normaliser.usage)
        context.tool_calls = normaliser.tool_calls
        # The client may be gone (this task cancelled): close the upstream request regardless.
        with anyio.CancelScope(shield=True):
            await stream.aclose()


def request_overrides(headers: Mapping[str, str]) -> Overrides | None:
    """Limits a client may set per request: `x-llm-router-timeout` (seconds, the whole request) and
    `x-llm-router-max-attempts` (per target)."""
    timeout = headers.get(TIMEOUT_HEADER)
    attempts = headers.get(MAX_ATTEMPTS_HEADER)
    if timeout is None and attempts is None:
        return None
    return Overrides(
        timeout=_header_number(TIMEOUT_HEADER, timeout, float, "a number of seconds above 0"),
        max_attempts=_header_number(MAX_ATTEMPTS_HEADER, attempts, int, "a whole number from 1"),
    )


def _header_number(name: str, value: str | None, kind: Callable[[str], N], expected: str) -> N | None:
    if value is None:
        return None
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not number > 0 or (isinstance(number, float) and not math.isfinite(number)):
        raise InvalidRequest(f"The header {name} must be {expected}, not {value!r}.", param=name, code="invalid_value")
    return number


def route_headers(target: RouteTarget, attempts: int) -> dict[str, str]:
    """Which target served a request, and in how many upstream attempts."""
    return {"x-llm-router-target": target.name, "x-llm-router-attempts": str(attempts)}
