"""A worker's phases (starting, serving, draining) and how it stops; `GET /ready` reports them.

On SIGTERM the server (granian) stops accepting connections and lets the requests and streams already in
flight finish; `llm-router serve` bounds that by `shutdown_timeout`, after which the workers are stopped
regardless. Then the app's lifespan (`app.server`) runs its shutdown: `drain` waits (within the same
deadline) for anything the server handed over still running, then Redis and the worker's metrics files are
closed.

Streams that never end by themselves (the dashboard's, the tool invocations') would hold that shutdown up
for the whole grace period, since the server waits for them before the app hears of it. So the worker also
listens for the signal itself (`stopping_on_signals`): `Lifecycle.stop` runs at once, and such a stream
ends when `Lifecycle.stopping` is set. Clients reconnect to another instance, or to this one once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

__all__ = ["Lifecycle", "stopping_on_signals"]

log = logging.getLogger(__name__)


class Lifecycle:
    """This worker's phase (starting, serving, draining) and the requests it is serving."""

    def __init__(self) -> None:
        self.started = False
        self.draining = False
        self.in_flight = 0
        self._idle: asyncio.Event | None = None
        self.stopping = asyncio.Event()
        """Set once the worker is told to stop: endless streams end then."""
        self._on_stop: list[Callable[[], None]] = []

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the worker is told to stop."""
        self._on_stop.append(callback)

    def stop(self) -> None:
        """The worker is told to stop: it is no longer ready, and the endless streams end."""
        if not self.stopping.is_set():
            self.draining = True
            self.stopping.set()
            for callback in self._on_stop:
                callback()

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


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stopping_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call `stop` in the running event loop as soon as the process is told to stop (SIGTERM, SIGINT).

    The handlers already in place (the server's, which start its graceful shutdown) still run: each signal
    is handed on to them. A signal whose handler was not set from Python (a native one, which Python cannot
    call on) is left alone, and outside the main thread, where signals cannot be handled, this does nothing.
    """
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handle(number: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(stop)
        before = previous.get(number)
        if callable(before):
            before(number, frame)
        elif before == signal.SIG_DFL:  # nobody else handles it: the signal's own effect, as without this
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)

    try:
        for number in _STOP_SIGNALS:
            before = signal.getsignal(number)
            if before is None:
                continue
            previous[number] = before
            signal.signal(number, handle)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for told, before in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                if signal.getsignal(told) is handle:
                    signal.signal(told, before)
