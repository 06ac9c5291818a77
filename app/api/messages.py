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
from litestar.response import Stream

from app.access.gate import admit
from app.access.limits import RateLimiter
from app.api.inject import Injected
from app.api.routed import event_stream, request_overrides, route_headers
from app.context import current
from app.errors import anthropic_exception_handlers, as_router_error
from app.messages.decode import decode_request
from app.messages.from_chat import message_from_completion
from app.messages.stream import MessageEventWriter, encode_events
from app.messages.to_chat import chat_request
from app.messages.tokens import estimate_input_tokens
from app.pipeline.answering import AnswerPipeline
from providers.anthropic_schema import CountTokensResponse
from providers.errors import RouterError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.pipeline.turns import AnswerStream

__all__ = ["count_message_tokens", "create_message"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


@post("/v1/messages", status_code=200, exception_handlers=anthropic_exception_handlers)  # type: ignore[arg-type]
async def create_message(
    request: Request[Any, Any, Any], pipeline: Injected[AnswerPipeline]
) -> Response[bytes] | Stream:
    parsed = decode_request(await request.body())
    current().model = parsed.model
    chat = chat_request(parsed)
    overrides, models = request_overrides(request.headers), [(parsed.model, "model")]
    if parsed.stream is True:
        stream = await pipeline.stream(chat, overrides, models)
        writer = MessageEventWriter(parsed.model, stream.target.provider.name)
        response = event_stream(_frames(stream, writer), stream.target, stream.attempts)
        response.headers["request-id"] = current().request_id
        return response
    answer = await pipeline.complete(chat, overrides, models)
    message = message_from_completion(answer.completion, model=parsed.model, provider=answer.target.provider.name)
    return Response(
        _encoder.encode(message),
        media_type="application/json",
        headers={
            **route_headers(answer.target, answer.attempts, answer.tool_rounds),
            "request-id": current().request_id,
        },
    )


@post("/v1/messages/count_tokens", status_code=200, exception_handlers=anthropic_exception_handlers)  # type: ignore[arg-type]
async def count_message_tokens(request: Request[Any, Any, Any], limiter: Injected[RateLimiter]) -> Response[bytes]:
    parsed = decode_request(await request.body(), counting=True)
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
