"""Graceful shutdown: on SIGTERM the router stops taking requests and lets the ones in flight finish, up to
`shutdown_timeout`."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.processes import children, run_router

if TYPE_CHECKING:
    from tests.support.processes import RouterProcess

pytestmark = pytest.mark.e2e

SLOW_STREAM = {"model": "mock/slow", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


class StreamInFlight(threading.Thread):
    """A streamed request to the router, read to its end (or its failure) on a thread of its own."""

    def __init__(self, router: RouterProcess) -> None:
        super().__init__(daemon=True)
        self.router = router
        self.body = ""
        self.error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            with httpx.stream(
                "POST", f"{self.router.base_url}/chat/completions", json=SLOW_STREAM, timeout=30
            ) as reply:
                for text in reply.iter_text():
                    self.body += text
        except httpx.HTTPError as exc:
            self.error = exc


def terminate(router: RouterProcess) -> float:
    """SIGTERM to the router's process group, as a service manager sends it; returns when it was sent."""
    os.killpg(router.process.pid, signal.SIGTERM)
    return time.monotonic()


def test_a_stream_in_flight_finishes_after_sigterm(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("shutdown")
    for router in run_router(directory, {"MOCK_SLOW_SECONDS": "2"}):
        stream = StreamInFlight(router)
        time.sleep(0.5)  # the request is in, its answer two seconds away

        terminate(router)
        time.sleep(0.2)
        with pytest.raises(httpx.TransportError):  # no new connections once shutdown has begun
            httpx.get(f"{router.root_url}/ready", timeout=2)
        stream.join(10)
        exit_code = router.process.wait(10)

        assert stream.error is None
        assert stream.body.endswith("data: [DONE]\n\n"), stream.body[-200:]
        assert exit_code == 0


def test_requests_still_running_at_the_deadline_are_cut_off(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("shutdown-deadline")
    env = {"MOCK_SLOW_SECONDS": "20", "LLM_ROUTER_SHUTDOWN_TIMEOUT": "1"}
    for router in run_router(directory, env):
        stream = StreamInFlight(router)
        time.sleep(0.5)

        sent = terminate(router)
        router.process.wait(10)
        stopped_after = time.monotonic() - sent
        stream.join(5)

        assert stopped_after < 4, stopped_after
        assert "[DONE]" not in stream.body


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_server_stopped_while_its_workers_start_stops_at_once(
    tmp_path_factory: pytest.TempPathFactory, signum: signal.Signals
) -> None:
    # Ctrl-C just after `serve`, or a service manager stopping a server that is starting: the workers are still
    # loading the app, and granian's own signal handlers are not in place yet.
    directory = tmp_path_factory.mktemp("shutdown-starting")
    for router in run_router(directory, args=("--workers", "2"), healthy=False):
        # Both workers forked and at work: past the first instants of a process, when the kernel delivers a
        # signal that Python then clears, as it clears any signal from before a fork.
        deadline = time.monotonic() + 20
        while len(workers := children(router.process.pid)) < 2 or not all(map(_has_run, workers)):
            assert router.process.poll() is None, router.logs()
            assert time.monotonic() < deadline, f"the workers did not start:\n{router.logs()}"
            time.sleep(0.01)
        loading = re.search(r"Started worker-\d+ runtime", router.logs()) is None

        os.killpg(router.process.pid, signum)
        sent = time.monotonic()
        exit_code = router.process.wait(45)
        stopped_after = time.monotonic() - sent

        assert loading  # both workers forked, neither serving yet
        assert exit_code == 0, router.logs()
        assert stopped_after < 10, stopped_after  # not the 30 s of `shutdown_timeout`, after which they are killed
        assert "Traceback" not in router.logs()


def _has_run(pid: int) -> bool:
    """Whether process `pid` has had a clock tick of CPU time."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12]) > 0  # utime and stime


class WatchingInvocations(threading.Thread):
    """`GET /v1/tools/invocations/stream`, read to its end on a thread of its own."""

    def __init__(self, router: RouterProcess) -> None:
        super().__init__(daemon=True)
        self.router = router
        self.opened = threading.Event()
        self.body = ""
        self.start()

    def run(self) -> None:
        with httpx.stream("GET", f"{self.router.base_url}/tools/invocations/stream", timeout=30) as reply:
            for text in reply.iter_text():
                self.opened.set()
                self.body += text


def test_a_watched_tool_invocation_stream_does_not_hold_up_a_shutdown(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("shutdown-watchers")
    for router in run_router(directory, {"LLM_ROUTER_SHUTDOWN_TIMEOUT": "20"}):
        watcher = WatchingInvocations(router)
        assert watcher.opened.wait(10)

        sent = terminate(router)
        exit_code = router.process.wait(30)
        stopped_after = time.monotonic() - sent
        watcher.join(5)

        assert exit_code == 0
        assert stopped_after < 5, stopped_after  # not the 20 s a stream that never ends would hold it up
        assert not watcher.is_alive()  # the stream ended, rather than the connection dropping mid-wait
        assert watcher.body.startswith(": watching tool invocations")
