"""POST /v1/responses, GET and DELETE /v1/responses/{id}: the Responses API over the chat pipeline.

A request is decoded, joined to the stored conversation it continues (`previous_response_id`), translated
to a chat request and routed like any chat request (same per-request routing headers, same
`x-llm-router-*` answer headers). A failure before the answer starts is a plain HTTP error in OpenAI's
envelope; once a stream has started, a failure ends it with `response.failed` and `error` events.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath
from litestar.response import Stream

from app.access.gate import admit, estimate_tokens
from app.chat import complete, event_stream, request_overrides, route_headers, start_stream
from app.context import current
from app.normalise import StreamNormaliser
from app.responses.decode import decode_request
from app.responses.events import encode_event
from app.responses.from_chat import new_response, response_from_completion
from app.responses.store import StoredResponse
from app.responses.stream import ResponseEventWriter
from app.responses.to_chat import chat_request
from app.services import services
from providers.errors import InvalidRequest, RouterError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.context import RequestContext
    from app.responses.decode import ResponsesRequest
    from app.responses.items import InputItem
    from app.responses.store import ResponseStore
    from app.responses.wire import ResponseObject
    from app.routing import ChunkStream

__all__ = ["ResponseNotFound", "create_response", "delete_response", "retrieve_response"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class ResponseNotFound(InvalidRequest):
    status = 404
    default_code = "not_found"


@post("/v1/responses", status_code=200)
async def create_response(request: Request[Any, Any, Any]) -> Response[bytes] | Stream:
    parsed = decode_request(await request.body())
    found = services(request)
    context = current()
    context.model = parsed.create.model
    history = await _history(found.responses, parsed, context.key_name)
    chat = chat_request(parsed, history)
    await admit(found.limiter, [(parsed.create.model, "model")], estimate_tokens(chat))
    conversation = [*history, *parsed.input]
    router, overrides = found.router, request_overrides(request.headers)
    response = new_response(parsed)
    store = found.responses if parsed.store else None
    if parsed.stream:
        stream = await start_stream(router, chat, overrides, context)
        return event_stream(_events(stream, ResponseEventWriter(response), store, conversation, context), stream)
    routed = await complete(router, chat, overrides, context)
    response = response_from_completion(response, routed.completion)
    if store is not None:
        await _remember(store, response, conversation, context.key_name)
    return Response(
        _encoder.encode(response),
        media_type="application/json",
        headers=route_headers(routed.target, routed.attempts),
    )


@get("/v1/responses/{response_id:str}")
async def retrieve_response(request: Request[Any, Any, Any], response_id: FromPath[str]) -> Response[bytes]:
    found = services(request)
    await admit(found.limiter)
    stored = await _owned(found.responses, response_id)
    return Response(_encoder.encode(stored.response), media_type="application/json")


@delete("/v1/responses/{response_id:str}", status_code=200)
async def delete_response(request: Request[Any, Any, Any], response_id: FromPath[str]) -> Response[bytes]:
    found = services(request)
    await admit(found.limiter)
    await _owned(found.responses, response_id)
    if not await found.responses.delete(response_id):
        raise _not_found(response_id)
    deleted = {"id": response_id, "object": "response.deleted", "deleted": True}
    return Response(_encoder.encode(deleted), media_type="application/json")


async def _owned(store: ResponseStore, response_id: str) -> StoredResponse:
    """A stored response the current client may see: its own (any client's, on an open router)."""
    stored = await store.get(response_id)
    if stored is None or stored.owner != current().key_name:
        raise _not_found(response_id)
    return stored


async def _history(store: ResponseStore, parsed: ResponsesRequest, owner: str | None) -> list[InputItem]:
    """The conversation `previous_response_id` continues (nothing without one)."""
    previous_id = parsed.create.previous_response_id
    if previous_id is None:
        return []
    stored = await store.get(previous_id)
    # Another client's response is as good as missing: say nothing of its existence.
    if stored is None or stored.owner != owner:
        raise InvalidRequest(
            f"Previous response with id '{previous_id}' not found: it was never stored here "
            "(`store: false`), has expired, or was deleted. Send the whole conversation as `input` instead.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return stored.history()


async def _events(
    stream: ChunkStream,
    writer: ResponseEventWriter,
    store: ResponseStore | None,
    conversation: list[InputItem],
    context: RequestContext,
) -> AsyncIterator[bytes]:
    """The SSE body: the answer's events (stored once complete), or `response.failed` and `error`."""
    normaliser = StreamNormaliser(include_usage=True)
    try:
        async for chunk in stream:
            if (out := normaliser.feed(chunk)) is not None:
                yield b"".join(encode_event(event) for event in writer.feed(out))
        closing = [event for out in normaliser.finish() for event in writer.feed(out)]
        closing += writer.finish()
        if store is not None:
            await _remember(store, writer.response, conversation, context.key_name)
        yield b"".join(encode_event(event) for event in closing)
    except RouterError as exc:
        log.warning("stream from %s failed: %s", stream.target.name, exc.message)
        yield b"".join(encode_event(event) for event in writer.fail(exc))
    except Exception:
        log.exception("unexpected error in a stream from %s", stream.target.name)
        failure = RouterError("The router failed while streaming this answer.", code="internal_error")
        yield b"".join(encode_event(event) for event in writer.fail(failure))
    finally:
        context.count_usage(normaliser.usage)
        context.tool_calls = normaliser.tool_calls
        # The client may be gone (this task cancelled): close the upstream request regardless.
        with anyio.CancelScope(shield=True):
            await stream.aclose()


async def _remember(
    store: ResponseStore, response: ResponseObject, conversation: list[InputItem], owner: str | None
) -> None:
    """Store an answer. The answer stands if that fails: only continuing it later will not work."""
    try:
        await store.put(StoredResponse(response=response, conversation=conversation, owner=owner))
    except Exception:
        log.exception("could not store response %s", response.id)


def _not_found(response_id: str) -> ResponseNotFound:
    return ResponseNotFound(f"Response with id '{response_id}' not found.", param="response_id")
