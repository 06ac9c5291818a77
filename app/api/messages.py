"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API over the answer pipeline.

A request is decoded, translated to a chat request and answered like any chat request (same client keys,
limits, per-request routing headers and `x-llm-router-*` answer headers), then rendered as an Anthropic
message or event stream. Every error on these endpoints is in Anthropic's envelope: a failure before the
answer starts is a plain HTTP error, and once a stream has started, a failure ends it with an `error` event.
Responses also carry the request id as `request-id`, where the Anthropic SDKs look for it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, post

from app.access.gate import admit
from app.access.limits import RateLimiter
from app.api.direct import JsonReply, StreamReply
from app.api.inject import Injected
from app.api.routed import request_overrides, route_headers
from app.context import current
from app.errors import anthropic_exception_handlers, as_router_error
from app.messages.decode import decode_request
from app.messages.from_chat import message_from_completion
from app.messages.stream import MessageEventWriter, encode_events
from app.messages.to_chat import chat_request
from app.messages.tokens import estimate_input_tokens
from app.schemas import SchemaCompiler
from providers.anthropic_schema import CountTokensResponse
from providers.errors import RouterError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.api.direct import Headers, Reply
    from app.pipeline.answering import AnswerPipeline
    from app.pipeline.turns import AnswerStream

__all__ = ["CreateMessage", "count_message_tokens"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class CreateMessage:
    """`POST /v1/messages`, answered directly on the ASGI channel (`app.api.direct`)."""

    def __init__(self, pipeline: AnswerPipeline, schemas: SchemaCompiler) -> None:
        self.pipeline = pipeline
        self.schemas = schemas

    async def __call__(self, headers: Headers, body: bytes) -> Reply:
        parsed = decode_request(body, self.schemas)
        context = current()
        context.model = parsed.model
        chat = chat_request(parsed)
        overrides, models = request_overrides(headers), [(parsed.model, "model")]
        if parsed.stream is True:
            stream = await self.pipeline.stream(chat, overrides, models)
            writer = MessageEventWriter(parsed.model, stream.target.provider.name)
            routed = route_headers(stream.target, stream.attempts)
            return StreamReply(_frames(stream, writer), {**routed, "request-id": context.request_id})
        answer = await self.pipeline.complete(chat, overrides, models)
        message = message_from_completion(answer.completion, model=parsed.model, provider=answer.target.provider.name)
        routed = route_headers(answer.target, answer.attempts, answer.tool_rounds)
        return JsonReply(_encoder.encode(message), {**routed, "request-id": context.request_id})


@post("/v1/messages/count_tokens", status_code=200, exception_handlers=anthropic_exception_handlers)  # type: ignore[arg-type]
async def count_message_tokens(
    request: Request[Any, Any, Any], limiter: Injected[RateLimiter], schemas: Injected[SchemaCompiler]
) -> Response[bytes]:
    parsed = decode_request(await request.body(), schemas, counting=True)
    current().model = parsed.model
    # Translated only to refuse what a real request would be refused for.
    chat_request(parsed)
    await admit(limiter, [(parsed.model, "model")])
    counted = CountTokensResponse(input_tokens=estimate_input_tokens(parsed))
    return Response(
        _encoder.encode(counted), media_type="application/json", headers={"request-id": current().request_id}
    )


async def _frames(stream: AnswerStream, writer: MessageEventWriter) -> AsyncIterator[bytes]:
    """The SSE body: the message's events, or an `error` event, never a clean finish after a failure."""
    try:
        async for batch in stream:
            if events := writer.feed(batch):
                yield encode_events(events)
        yield encode_events(writer.finish())
    except RouterError as exc:
        log.warning("stream from %s failed: %s", stream.target.name, exc.message)
        yield writer.fail(exc)
    except Exception as exc:
        yield writer.fail(as_router_error(exc))
