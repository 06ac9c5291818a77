"""Open web dashboards for the dashboards scenario: ``GET /admin/stream`` connections read as they go.

A dashboard holds one server-sent-event stream; the router's worker sends every open one the same update
once per `[dashboard] update_interval` (an ``overview`` event, after the ``requests`` recorded since the
last). The dashboards here are read continuously on a thread of their own, so that they stay open while
the scenario's wrk runs, and each counts what it receives: its events by name, and its bytes. The
``hello`` event each opens with names the worker serving it (``instance``: host and process id).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpclient

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Dashboard", "DashboardsFailedError", "OpenDashboards", "Reading", "Updates"]

_STREAM_PATH = "/admin/stream"


class DashboardsFailedError(Exception):
    """A dashboard did not open, ended, or did not get its updates in time."""


@dataclass
class Dashboard:
    """What one open dashboard has received so far."""

    instance: str = ""
    """The worker serving it, from its ``hello`` event."""
    update_interval: float = 0.0
    events: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    ended: str = ""
    """Why its stream ended, or failed to open; empty while it is open."""
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    """When each Overview (each update) arrived (``perf_counter``), with ``bytes`` then."""

    @property
    def overviews(self) -> int:
        return self.events["overview"]


@dataclass(frozen=True)
class Reading:
    """Every dashboard's counts at one moment, to subtract one reading from a later one."""

    overviews: tuple[int, ...]
    requests_events: tuple[int, ...]
    bytes: tuple[int, ...]


@dataclass(frozen=True)
class Updates:
    """The updates the dashboards received around one stretch of time."""

    per_s: float
    """Updates a second, each dashboard: one over the mean time between two."""
    kib_per_s: float
    """KiB a second, each dashboard."""
    longest_s: float
    """The longest any dashboard waited between two updates."""


class OpenDashboards:
    """``count`` dashboards held open on a thread of their own, from ``open()`` until ``close()``."""

    def __init__(self, host: str, port: int, admin_key: str, count: int) -> None:
        self._raw = httpclient.build_get(host, port, _STREAM_PATH, {"Authorization": f"Bearer {admin_key}"})
        self._host, self._port = host, port
        self.dashboards = [Dashboard() for _ in range(count)]
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="dashboards", daemon=True)

    # -- seen from the scenario's thread -----------------------------------------------

    def open(self, timeout: float) -> None:
        """Open every dashboard and wait until each has its opening events (``hello`` and the Overview)."""
        self._thread.start()
        self.wait("every dashboard to open", lambda now: min(now.overviews) >= 1, timeout)

    def wait_for_updates(self, timeout: float) -> None:
        """Wait until every dashboard has had one more Overview than now: the worker's updates are flowing."""
        before = self.reading().overviews
        self.wait(
            "an update on every dashboard",
            lambda now: all(n > b for n, b in zip(now.overviews, before, strict=True)),
            timeout,
        )

    def wait(self, what: str, done: Callable[[Reading], bool], timeout: float) -> None:
        """Wait until ``done`` holds for the dashboards' counts; a dashboard that ends, or the timeout, fails."""
        with self._changed:
            finished = self._changed.wait_for(lambda: bool(self.ended()) or done(self.reading()), timeout)
        ended = self.ended()
        if ended:
            raise DashboardsFailedError(f"{len(ended)} of {len(self.dashboards)} dashboards ended: {ended[0]}")
        if not finished:
            raise DashboardsFailedError(f"waited {timeout:g} s for {what}")

    def reading(self) -> Reading:
        with self._changed:
            return Reading(
                tuple(d.overviews for d in self.dashboards),
                tuple(d.events["requests"] for d in self.dashboards),
                tuple(d.bytes for d in self.dashboards),
            )

    def updates(self, start: float, end: float) -> Updates | None:
        """The updates whose wait overlaps ``start``..``end`` (``perf_counter`` times), None if there were none.

        Taken from the time between updates rather than counted within the stretch: with about one update a
        second, a count over a few seconds would move by a whole update with the phase of the stretch.
        """
        waits: list[float] = []
        sizes: list[int] = []
        with self._changed:
            for dashboard in self.dashboards:
                for (before, bytes_before), (at, bytes_at) in itertools.pairwise(dashboard.arrivals):
                    if at > start and before < end:
                        waits.append(at - before)
                        sizes.append(bytes_at - bytes_before)
        if not waits:
            return None
        return Updates(len(waits) / sum(waits), sum(sizes) / 1024 / sum(waits), max(waits))

    def ended(self) -> list[str]:
        with self._changed:
            return [d.ended for d in self.dashboards if d.ended]

    def per_instance(self) -> Counter[str]:
        """Dashboards per worker."""
        return Counter(d.instance for d in self.dashboards)

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    # -- on the dashboards' thread -------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._follow_all())

    async def _follow_all(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        followers = [asyncio.create_task(self._follow(d)) for d in self.dashboards]
        await self._stop.wait()
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)

    async def _follow(self, dashboard: Dashboard) -> None:
        stream: httpclient.OpenStream | None = None
        try:
            stream = await httpclient.open_stream(self._host, self._port, self._raw)
            if stream.status != 200 or not stream.headers.get("content-type", "").startswith("text/event-stream"):
                body = bytes(stream.received[:200])
                self._end(dashboard, f"status {stream.status}, {stream.headers.get('content-type')}: {body!r}")
                return
            events = _EventReader(dashboard)
            self._received(dashboard, events, bytes(stream.received))
            while (chunk := await stream.next_chunk()) is not None:
                self._received(dashboard, events, chunk)
            self._end(dashboard, "the router ended the stream")
        except asyncio.CancelledError:
            pass
        except (OSError, asyncio.IncompleteReadError, httpclient.ProtocolError, ValueError) as exc:
            self._end(dashboard, f"{exc.__class__.__name__}: {exc}")
        finally:
            if stream is not None:
                await stream.close()

    def _received(self, dashboard: Dashboard, events: _EventReader, data: bytes) -> None:
        with self._changed:
            dashboard.bytes += len(data)
            if events.feed(data):
                dashboard.arrivals.append((time.perf_counter(), dashboard.bytes))
                self._changed.notify_all()

    def _end(self, dashboard: Dashboard, why: str) -> None:
        with self._changed:
            dashboard.ended = why
            self._changed.notify_all()


class _EventReader:
    """Splits a dashboard's stream into events and counts them by name (and reads the ``hello``)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self._pending = b""

    def feed(self, data: bytes) -> bool:
        """Take the stream's next bytes; whether an Overview (an update) came with them."""
        *complete, self._pending = (self._pending + data).split(b"\n\n")
        overview = False
        for block in complete:
            name, _, rest = block.partition(b"\n")
            name = name.removeprefix(b"event: ")
            self.dashboard.events[name.decode("utf-8", "replace")] += 1
            overview = overview or name == b"overview"
            if name == b"hello":
                hello = json.loads(rest.removeprefix(b"data: "))
                self.dashboard.instance = hello["instance"]
                self.dashboard.update_interval = float(hello["update_interval"])
        return overview
