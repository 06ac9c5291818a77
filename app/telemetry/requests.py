"""Per-request telemetry: the middleware around every HTTP request, and the observer the router reports to.

`RequestObserver` is the outermost ASGI layer. For each request it opens a `RequestContext` (with the
client's `x-request-id`, or a new one, returned in the response's `x-request-id`), counts the request in
flight for a graceful shutdown, and as the response completes (its last byte handed to the server) turns
the context into one log line, the request metrics and its record among the recent requests the dashboard
shows (`app.telemetry.recent`). Nothing here runs per chunk but a check: an error's answer is kept to name
the error in that record, and with `[dashboard] log_content` so are the API's bodies, up to a bound.

`RoutingTelemetry` is the router's `RoutingObserver`: it records each attempt in the metrics and counts it
in the current request's context, and keeps a failed target's error for the dashboard.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, cast

import anyio
from litestar.enums import ScopeType

from app.context import RequestContext, close, current, opened
from app.routing.health import Outcome
from app.telemetry.recent import error_message
from providers.errors import RouterError

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

    from app.lifecycle import Lifecycle
    from app.telemetry.metrics import Metrics
    from app.telemetry.recent import RecentRequests

__all__ = ["REQUEST_ID_HEADER", "RequestObserver", "RoutingTelemetry"]

REQUEST_ID_HEADER = "x-request-id"

log = logging.getLogger("llm_router.requests")

_REQUEST_ID = REQUEST_ID_HEADER.encode()
# A client's request id is kept when it is a plain token; anything else (or nothing) gets a fresh one.
_CLIENT_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# Probes and scrapes: logged at DEBUG when they succeed, so load balancers polling them stay out of the log.
_PROBES = frozenset(("/health", "/ready", "/metrics"))
_UNROUTED = "unmatched"
# Enough of an error's answer to read its message from the envelope.
_ERROR_BYTES = 4096
# Failures that change a target's state, and so explain it.
_TELLING = (Outcome.FAILURE, Outcome.RATE_LIMITED)


class RequestObserver:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, lifecycle: Lifecycle, recent: RecentRequests | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.lifecycle = lifecycle
        self.recent = recent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope["headers"])
        context = RequestContext(request_id, scope["method"], scope["path"], time.perf_counter())
        token = opened(context)
        header = (_REQUEST_ID, request_id.encode())
        streaming = False
        recent = self.recent
        # With content logging, the API's bodies are kept with their records, up to `content_bytes` each.
        content = recent is not None and recent.log_content and recent.recorded(context.path)
        limit = recent.content_bytes if recent is not None and content else _ERROR_BYTES
        asked: bytearray | None = None
        answer: bytearray | None = None
        recorded = False

        async def observed(message: Message) -> None:
            nonlocal streaming, answer
            if message["type"] == "http.response.start":
                context.status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
                if context.stream:
                    streaming = True
                    self.metrics.stream_started(_route(scope))
                if recent is not None and (content or context.status >= 400):
                    answer = bytearray()
            else:
                if answer is not None and len(answer) < limit:
                    answer.extend(cast("bytes", message.get("body", b""))[: limit - len(answer)])
                if not (recorded or message.get("more_body", False)):
                    record()
            await send(message)

        if content:
            asked = kept = bytearray()
            receive = _keeping(receive, kept, limit)

        def record() -> None:
            """Count and log the request: as the answer's last byte is handed over, or when the request ends
            without one. Done before that byte goes out, the request is in the log and the metrics by the time
            its client has the answer, and the worker has little left to do for it when the next one arrives."""
            nonlocal recorded
            recorded = True
            seconds = time.perf_counter() - context.started
            route = _route(scope)
            if streaming:
                self.metrics.stream_ended(route)
            self.metrics.request_finished(context, route, seconds)
            if recent is not None:
                failed = answer is not None and context.status >= 400
                recent.add(
                    context,
                    seconds,
                    error=error_message(answer) if failed and answer is not None else None,
                    request_body=asked,
                    response_body=answer if content else None,
                )
            _log(context, seconds)

        self.lifecycle.entered()
        try:
            await self.app(scope, receive, observed)
        finally:
            if context.closers:
                await _run_closers(context)
            self.lifecycle.left()
            if not recorded:
                record()
            close(token)


def _keeping(receive: Receive, kept: bytearray, limit: int) -> Receive:
    """`receive`, keeping the first `limit` bytes of the request's body in `kept` (content logging)."""

    async def received() -> ReceiveMessage:
        message = await receive()
        if message["type"] == "http.request" and len(kept) < limit:
            kept.extend(message.get("body", b"")[: limit - len(kept)])
        return message

    return received


async def _run_closers(context: RequestContext) -> None:
    # The request may be over because its task was cancelled (the client left): finish the cleanup anyway.
    with anyio.CancelScope(shield=True):
        for closer in context.closers:
            try:
                await closer()
            except Exception:
                log.exception("closing after request %s failed", context.request_id)


class RoutingTelemetry:
    """The router's observer: attempts and fallbacks into the metrics and the request's context, and a
    failed target's error into the recent requests (the dashboard says why a circuit is open)."""

    def __init__(self, metrics: Metrics, recent: RecentRequests | None = None) -> None:
        self.metrics = metrics
        self.recent = recent

    def attempt_finished(
        self, target: str, outcome: Outcome, seconds: float, error: BaseException | None = None
    ) -> None:
        self.metrics.attempt_finished(target, outcome, seconds)
        current().attempts += 1
        if self.recent is not None and outcome in _TELLING and isinstance(error, RouterError):
            self.recent.target_failed(target, error.message, error.code)

    def fell_back(self, model: str, target: str) -> None:
        self.metrics.fell_back(model, target)


def _request_id(headers: list[tuple[bytes, bytes]] | Any) -> str:
    for name, value in headers:
        if name == _REQUEST_ID:
            if _CLIENT_REQUEST_ID.match(value):
                return str(value.decode("ascii"))
            break
    return secrets.token_hex(16)


def _route(scope: Scope) -> str:
    """The route's template (`/v1/models/{model_id}`), never the raw path, so metric labels stay few."""
    template: str | None = scope.get("path_template")
    return template or _UNROUTED


def _log(context: RequestContext, seconds: float) -> None:
    status = context.status or 500
    level = logging.DEBUG if context.path in _PROBES and status < 400 else logging.INFO
    if not log.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "request_id": context.request_id,
        "method": context.method,
        "path": context.path,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "key": context.key_name,
        "model": context.model,
        "target": context.target,
        "attempts": context.attempts,
        "stream": context.stream,
        "prompt_tokens": context.prompt_tokens,
        "completion_tokens": context.completion_tokens,
        "tool_calls": context.tool_calls,
    }
    if context.tool_rounds is not None:
        fields["tool_rounds"] = context.tool_rounds
    if context.rate_limited is not None:
        fields["rate_limited"] = context.rate_limited
    # Made directly rather than through `log.log`, which would walk the stack for a caller nobody prints.
    record = logging.LogRecord(log.name, level, "", 0, "%s %s %d", (context.method, context.path, status), None)
    record.fields = fields
    log.handle(record)
