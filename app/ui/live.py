"""The dashboard's one stream: every open dashboard of a worker gets the same update, made once.

While at least one dashboard is open, one loop per worker wakes every `[dashboard] update_interval` seconds,
reads the feed once (the requests since its last read, the traffic, the targets' health) and takes the tool
invocations recorded meanwhile, encodes all of it once as server-sent events, and hands the same bytes to
every open dashboard. An open dashboard thus costs one write per update, whatever the traffic, and a
request's own path never sees the dashboards at all. With none open, the loop does not run.

    event: hello        {"instance", "update_interval", "log_content"}, once, first
    event: requests     {"data": [record, ...], "skipped": n}: records new since the last update, oldest
                        first; at most `MAX_RECORDS` an update (`skipped` says how many more there were)
    event: overview     the Overview, as `GET /admin/overview` (`app.ui.views.overview`)
    event: invocation   a tool invocation, as `GET /admin/tools/invocations` lists them

A new dashboard first gets the latest records (up to a thousand) and the current Overview. One that falls behind
loses its oldest updates rather than hold the others up.

An open dashboard must not hold up a restart: the server lets requests in flight finish before the app
hears of the shutdown, and a dashboard's stream never finishes by itself. So every stream ends as soon as
the worker is told to stop (`app.lifecycle`); the dashboards reconnect to another instance, or to this one
once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from app.ui.views import overview

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from app.routing import HealthBoard
    from app.shared import SharedState
    from app.telemetry.recent import RequestFeed, RequestRecord
    from app.tools.invocations import InvocationLog

__all__ = ["MAX_RECORDS", "LiveUpdates", "Viewer", "event", "without_content"]

log = logging.getLogger(__name__)

MAX_RECORDS = 200
_OPENING = 1000
"""Records a new dashboard opens with, at most (the page keeps as many)."""
_MAX_INVOCATIONS = 200
_BACKLOG = 64
"""Updates a dashboard may fall behind by before it loses the oldest."""

_encoder = msgspec.json.Encoder()


def event(name: str, payload: Any) -> bytes:
    """One server-sent event (msgspec writes JSON on one line, as a `data:` field must be)."""
    return b"event: " + name.encode() + b"\ndata: " + _encoder.encode(payload) + b"\n\n"


def without_content(records: list[RequestRecord]) -> list[RequestRecord]:
    """Records as lists and streams show them: bodies, if kept, only in a request's own detail."""
    return [
        msgspec.structs.replace(record, request_body=None, response_body=None)
        if record.request_body is not None or record.response_body is not None
        else record
        for record in records
    ]


class Viewer:
    """One open dashboard: the updates it has yet to send (None ends its stream)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(_BACKLOG)

    def put(self, update: bytes | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(update)

    async def get(self) -> bytes | None:
        return await self.queue.get()


class LiveUpdates:
    """The worker's open dashboards, and the one loop that updates them all while any is open."""

    def __init__(
        self,
        feed: RequestFeed,
        board: HealthBoard,
        shared: SharedState,
        invocations: InvocationLog,
        *,
        interval: float,
        log_content: bool,
    ) -> None:
        self.feed = feed
        self.board = board
        self.shared = shared
        self.invocations = invocations
        self.interval = interval
        self._hello = event(
            "hello", {"instance": feed.local.instance, "update_interval": interval, "log_content": log_content}
        )
        self._viewers: set[Viewer] = set()
        self._cursor: str | None = None
        self._loop: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[Viewer]:
        """A new dashboard's updates, from the latest records and the Overview on."""
        viewer = Viewer()
        if self._loop is None or self._loop.done():
            # The loop's place is taken before the backlog is read: a record may come twice, never not at all.
            _, self._cursor = await self.feed.since(None)
        backlog = await self.feed.latest(min(self.feed.local.records.maxlen or _OPENING, _OPENING))
        backlog.reverse()
        viewer.put(self._hello + event("requests", {"data": without_content(backlog), "skipped": 0}))
        viewer.put(event("overview", await self.overview()))
        self._viewers.add(viewer)
        if self.closed:
            viewer.put(None)
        elif self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run(), name="dashboard updates")
        try:
            yield viewer
        finally:
            self._viewers.discard(viewer)

    async def overview(self) -> dict[str, Any]:
        return await overview(self.feed, self.board, self.shared)

    def stop(self) -> None:
        """End every open dashboard's stream, and open no more (the worker is shutting down)."""
        self._closed.set()
        for viewer in self._viewers:
            viewer.put(None)

    async def close(self) -> None:
        self.stop()
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop

    async def _run(self) -> None:
        async with self.invocations.subscribe() as invocations:
            while self._viewers and not self.closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), self.interval)
                if self.closed or not self._viewers:
                    return
                try:
                    update = await self._update(invocations.queue)
                except Exception:  # a failed update is skipped; the next one comes as usual
                    log.exception("making the dashboard's update failed")
                    continue
                for viewer in list(self._viewers):
                    viewer.put(update)

    async def _update(self, invocations: asyncio.Queue[Any]) -> bytes:
        parts: list[bytes] = []
        records, self._cursor = await self.feed.since(self._cursor)
        if records:
            shown = without_content(records[-MAX_RECORDS:])
            parts.append(event("requests", {"data": shown, "skipped": len(records) - len(shown)}))
        for _ in range(min(invocations.qsize(), _MAX_INVOCATIONS)):
            parts.append(event("invocation", invocations.get_nowait()))
        parts.append(event("overview", await self.overview()))
        return b"".join(parts)
