"""POST /v1/chat/completions: decode, route, normalise, answer (as JSON or as server-sent events)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from litestar import Request, Response, post
from litestar.response import Stream

from app.errors import router_error_body
from app.normalise import StreamNormaliser, normalise_completion
from app.services import services
from app.sse import DONE, encode_chunk, encode_data
from providers.errors import RouterError
from providers.request import ChatRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.routing import ChunkStream, RouteTarget

__all__ = ["create_chat_completion"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@post("/v1/chat/completions", status_code=200)
async def create_chat_completion(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
    chat_request = ChatRequest.decode(await request.body())
    router = services(request).router
    if chat_request.params.stream:
        stream = await router.open_stream(chat_request)
        return Stream(
            _events(stream, include_usage=chat_request.params.include_usage),
            media_type="text/event-stream",
            headers=_SSE_HEADERS | _route_headers(stream.target, stream.attempts),
        )
    routed = await router.complete(chat_request)
    return Response(
        _encoder.encode(normalise_completion(routed.completion)),
        media_type="application/json",
        headers=_route_headers(routed.target, routed.attempts),
    )


async def _events(stream: ChunkStream, *, include_usage: bool) -> AsyncIterator[bytes]:
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
        # The client may be gone (this task cancelled): close the upstream request regardless.
        with anyio.CancelScope(shield=True):
            await stream.aclose()


def _route_headers(target: RouteTarget, attempts: int) -> dict[str, str]:
    return {"x-llm-router-target": target.name, "x-llm-router-attempts": str(attempts)}
