"""Readiness and shutdown: whether this worker should get traffic, and how it stops.

`GET /health` (liveness) answers as soon as the process serves HTTP. `GET /ready` (readiness) answers 200
once the worker has started, with `"redis": "down"` and status `degraded` when Redis is configured but
unreachable (the router still serves, on local state), and 503 once shutdown has begun.

On SIGTERM the server (granian) stops accepting connections and lets the requests and streams already in
flight finish; `llm-router serve` bounds that by `shutdown_timeout`, after which the workers are stopped
regardless. Then the lifespan below runs its shutdown: it waits (within the same deadline) for anything the
server handed over still running, and closes Redis and the worker's metrics files.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get

from app.services import services

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from litestar import Litestar

    from app.services import Services

__all__ = ["Lifecycle", "readiness", "serving"]

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class Lifecycle:
    """This worker's phase (starting, serving, draining) and the requests it is serving."""

    def __init__(self) -> None:
        self.started = False
        self.draining = False
        self.in_flight = 0
        self._idle: asyncio.Event | None = None

    def entered(self) -> None:
        self.in_flight += 1

    def left(self) -> None:
        self.in_flight -= 1
        if self._idle is not None and self.in_flight == 0:
            self._idle.set()

    async def drain(self, grace: float) -> int:
        """Stop being ready, then wait up to `grace` seconds for requests in flight; how many are left."""
        self.draining = True
        if self.in_flight:
            self._idle = asyncio.Event()
            try:
                async with asyncio.timeout(grace):
                    await self._idle.wait()
            except TimeoutError:
                pass
        return self.in_flight


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[None]:
    """The worker's lifespan: connect shared state on start; drain, then disconnect, on shutdown."""
    found: Services = app.state.services
    await found.shared.start()
    found.lifecycle.started = True
    try:
        yield
    finally:
        grace = found.settings.shutdown_timeout
        if left := await found.lifecycle.drain(grace):
            log.warning("shutting down with %d requests still in flight after %s s", left, grace)
        await found.shared.close()
        found.metrics.process_ended()


@get("/ready", include_in_schema=False)
async def readiness(request: Request[Any, Any, Any]) -> Response[bytes]:
    found = services(request)
    lifecycle = found.lifecycle
    if lifecycle.draining or not lifecycle.started:
        status = "shutting down" if lifecycle.draining else "starting"
        return Response(_encoder.encode({"status": status}), status_code=503, media_type="application/json")
    body: dict[str, str] = {"status": "ready"}
    if found.shared.redis is not None:
        body = {"status": "degraded", "redis": "down"} if found.shared.degraded else {"status": "ready", "redis": "up"}
    return Response(_encoder.encode(body), media_type="application/json")
