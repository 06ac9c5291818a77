"""POST /v1/chat/completions: decode, answer through the pipeline, render as JSON or as chunk events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, post
from litestar.response import Stream

from app.api.inject import Injected
from app.api.routed import event_stream, request_overrides, requested_models, route_headers
from app.chat.render import ChunkWriter
from app.context import current
from app.errors import as_router_error
from app.pipeline.answering import AnswerPipeline
from app.routing.guard import function_schemas
from app.schemas import check_tool_schemas
from providers.errors import RouterError
from providers.request import ChatRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.pipeline.turns import AnswerStream

__all__ = ["create_chat_completion"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


@post("/v1/chat/completions", status_code=200)
async def create_chat_completion(
    request: Request[Any, Any, Any], pipeline: Injected[AnswerPipeline]
) -> Response[bytes] | Stream:
    chat_request = ChatRequest.decode(await request.body())
    check_tool_schemas(function_schemas(chat_request.params))
    params = chat_request.params
    current().model = params.model
    overrides = request_overrides(request.headers)
    models = requested_models(chat_request)
    if params.stream:
        stream = await pipeline.stream(chat_request, overrides, models)
        writer = ChunkWriter(include_usage=params.include_usage)
        return event_stream(_frames(stream, writer), stream.target, stream.attempts)
    answer = await pipeline.complete(chat_request, overrides, models)
    return Response(
        _encoder.encode(answer.completion),
        media_type="application/json",
        headers=route_headers(answer.target, answer.attempts, answer.tool_rounds),
    )


async def _frames(stream: AnswerStream, writer: ChunkWriter) -> AsyncIterator[bytes]:
    """The SSE body: a chunk per batch of events, then `[DONE]`; or an error event, never a clean finish."""
    try:
        async for events in stream:
            if frame := writer.write(events):
                yield frame
        yield writer.finish()
    except RouterError as exc:
        log.warning("stream from %s failed: %s", stream.target.name, exc.message)
        yield writer.fail(exc)
    except Exception as exc:
        yield writer.fail(as_router_error(exc))
