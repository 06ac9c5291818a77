"""POST /v1/responses, GET and DELETE /v1/responses/{id}: the Responses API over the answer pipeline.

A request is decoded, joined to the stored conversation it continues (`previous_response_id`), translated
to a chat request and answered like any chat request (same per-request routing headers, same
`x-llm-router-*` answer headers). Its `mcp` tools name registry toolsets, which the router runs for it
(`app.responses.mcp`), as it runs a configured agent's. The answer's events are rendered by one writer,
streamed or not, so both give the same response. A failure before the answer starts is a plain HTTP error
in OpenAI's envelope; once a stream has started, a failure ends it with `response.failed` and `error`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec
from litestar import Response, delete, get
from litestar.params import FromPath

from app.access.gate import admit
from app.access.limits import RateLimiter
from app.api.direct import JsonReply, StreamReply
from app.api.inject import Injected
from app.api.routed import request_overrides, route_headers
from app.context import current
from app.errors import as_router_error
from app.responses.decode import decode_request
from app.responses.events import encode_event
from app.responses.from_chat import new_response
from app.responses.mcp import request_servers
from app.responses.store import ResponseStore, StoredResponse
from app.responses.stream import ResponseEventWriter, render
from app.responses.to_chat import chat_request
from providers.errors import InvalidRequest, ResponseNotFound, RouterError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from app.agents.directory import AgentDirectory
    from app.api.direct import Headers, Reply
    from app.pipeline.answering import AnswerPipeline
    from app.pipeline.turns import AnswerStream
    from app.responses.decode import ResponsesRequest
    from app.responses.events import Event
    from app.responses.items import InputItem
    from app.responses.wire import ResponseObject
    from app.schemas import SchemaCompiler
    from app.tools.registry import ToolRegistry

__all__ = ["CreateResponse", "delete_response", "retrieve_response"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class CreateResponse:
    """`POST /v1/responses`, answered directly on the ASGI channel (`app.api.direct`)."""

    def __init__(
        self,
        pipeline: AnswerPipeline,
        responses: ResponseStore,
        tools: ToolRegistry,
        agents: AgentDirectory,
        schemas: SchemaCompiler,
    ) -> None:
        self.pipeline = pipeline
        self.schemas = schemas
        self.responses = responses
        self.tools = tools
        self.agents = agents

    async def __call__(self, headers: Headers, body: bytes) -> Reply:
        parsed = decode_request(body, self.schemas)
        context = current()
        context.model = parsed.create.model
        history = await _history(self.responses, parsed, context.key_name)
        servers = request_servers(parsed, self.tools, context.client)
        if servers.servers and self.agents.get(parsed.create.model) is not None:
            raise InvalidRequest(
                f"The model '{parsed.create.model}' is an agent, which runs its own tools: name a model, not an "
                "agent, to use `mcp` tools.",
                param=servers.servers[0].where,
                code="invalid_value",
            )
        translation = chat_request(parsed, history, servers)
        conversation = [*history, *parsed.input]
        toolbox = servers.toolbox(translation.approved)
        listings = servers.listings(conversation)
        chat = translation.request
        overrides, models = request_overrides(headers), [(parsed.create.model, "model")]
        store = self.responses if parsed.store else None
        if parsed.stream:
            stream = await self.pipeline.stream(chat, overrides, models, toolbox=toolbox)
            writer = ResponseEventWriter(new_response(parsed), listings)
            frames = _events(stream, writer, store, conversation)
            return StreamReply(frames, route_headers(stream.target, stream.attempts))
        answer = await self.pipeline.complete(chat, overrides, models, toolbox=toolbox)
        response = render(new_response(parsed), answer.events(), listings)
        if store is not None:
            await _remember(store, response, conversation)
        return JsonReply(_encoder.encode(response), route_headers(answer.target, answer.attempts, answer.tool_rounds))


@get("/v1/responses/{response_id:str}")
async def retrieve_response(
    response_id: FromPath[str], responses: Injected[ResponseStore], limiter: Injected[RateLimiter]
) -> Response[bytes]:
    await admit(limiter)
    stored = await _owned(responses, response_id)
    return Response(_encoder.encode(stored.response), media_type="application/json")


@delete("/v1/responses/{response_id:str}", status_code=200)
async def delete_response(
    response_id: FromPath[str], responses: Injected[ResponseStore], limiter: Injected[RateLimiter]
) -> Response[bytes]:
    await admit(limiter)
    await _owned(responses, response_id)
    if not await responses.delete(response_id):
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
    stream: AnswerStream,
    writer: ResponseEventWriter,
    store: ResponseStore | None,
    conversation: list[InputItem],
) -> AsyncIterator[bytes]:
    """The SSE body: the answer's events (stored once complete), or `response.failed` and `error`."""
    try:
        async for batch in stream:
            if events := writer.feed(batch):
                yield _frames(events)
        closing = writer.finish()
        if store is not None:
            await _remember(store, writer.response, conversation)
        yield _frames(closing)
    except RouterError as exc:
        log.warning("stream from %s failed: %s", stream.target.name, exc.message)
        yield _frames(writer.fail(exc))
    except Exception as exc:
        yield _frames(writer.fail(as_router_error(exc)))


def _frames(events: Iterable[Event]) -> bytes:
    return b"".join(map(encode_event, events))


async def _remember(store: ResponseStore, response: ResponseObject, conversation: list[InputItem]) -> None:
    """Store an answer. The answer stands if that fails: only continuing it later will not work."""
    try:
        await store.put(StoredResponse(response=response, conversation=conversation, owner=current().key_name))
    except Exception:
        log.exception("could not store response %s", response.id)


def _not_found(response_id: str) -> ResponseNotFound:
    return ResponseNotFound(f"Response with id '{response_id}' not found.", param="response_id")
