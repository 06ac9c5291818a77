"""A worker's phases (starting, serving, draining) and how it stops; `GET /ready` reports them.

On SIGTERM the server (granian) stops accepting connections and lets the requests and streams already in
flight finish; `llm-router serve` bounds that by `shutdown_timeout`, after which the workers are stopped
regardless. Then the app's lifespan (`app.server`) runs its shutdown: `drain` waits (within the same
deadline) for anything the server handed over still running, then Redis and the worker's metrics files are
closed.
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["Lifecycle"]

log = logging.getLogger(__name__)


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
