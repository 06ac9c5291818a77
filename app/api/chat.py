"""POST /v1/chat/completions: decode, answer through the pipeline, render as JSON or as chunk events.

The router's hottest endpoint, served directly on the ASGI channel (`app.api.direct`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec

from app.api.direct import JsonReply, StreamReply
from app.api.routed import request_overrides, requested_models, route_headers
from app.chat.render import ChunkWriter
from app.context import current
from app.errors import as_router_error
from app.routing.guard import function_schemas
from providers.errors import RouterError
from providers.request import ChatRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.api.direct import Headers, Reply
    from app.pipeline.answering import AnswerPipeline
    from app.pipeline.turns import AnswerStream
    from app.schemas import SchemaCompiler

__all__ = ["ChatCompletions"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class ChatCompletions:
    """The endpoint: one chat completion, whole or streamed."""

    def __init__(self, pipeline: AnswerPipeline, schemas: SchemaCompiler) -> None:
        self.pipeline = pipeline
        self.schemas = schemas

    async def __call__(self, headers: Headers, body: bytes) -> Reply:
        chat_request = ChatRequest.decode(body)
        self.schemas.check_tool_schemas(function_schemas(chat_request.params))
        params = chat_request.params
        current().model = params.model
        overrides = request_overrides(headers)
        models = requested_models(chat_request)
        if params.stream:
            stream = await self.pipeline.stream(chat_request, overrides, models)
            writer = ChunkWriter(include_usage=params.include_usage)
            return StreamReply(_frames(stream, writer), route_headers(stream.target, stream.attempts))
        answer = await self.pipeline.complete(chat_request, overrides, models)
        return JsonReply(
            _encoder.encode(answer.completion), route_headers(answer.target, answer.attempts, answer.tool_rounds)
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
