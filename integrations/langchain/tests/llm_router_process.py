"""Running real llm-router processes for integration tests.

`RouterLauncher` starts ``llm-router serve`` (the console script installed
next to the running interpreter) on a free port of 127.0.0.1, waits until
``/health`` answers, and stops every router it started when closed. Routers are
keyed by their extra environment variables, so tests needing a differently
configured router (e.g. upstream base URLs pointing at scripted fakes) get one
of their own while tests sharing a configuration share its process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["RouterLauncher", "RunningRouter", "free_port", "router_executable"]

_HOST = "127.0.0.1"


@dataclass(frozen=True)
class RunningRouter:
    """A started router process."""

    origin: str
    """``http://127.0.0.1:<port>``."""
    process: subprocess.Popen[bytes]
    log_path: Path
    """Where the process's stdout and stderr go, for post-mortems."""

    @property
    def base_url(self) -> str:
        """The ``/v1`` URL to give `ChatLLMRouter`."""
        return f"{self.origin}/v1"

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the router printed."""
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def router_executable() -> Path:
    """The ``llm-router`` console script of the interpreter running the tests."""
    return Path(sys.executable).parent / "llm-router"


class RouterLauncher:
    """Starts routers on demand and stops them all on `close`."""

    def __init__(self, log_dir: Path, *, startup_timeout: float = 30.0) -> None:
        self._log_dir = log_dir
        self._startup_timeout = startup_timeout
        self._routers: dict[tuple[tuple[str, str], ...], RunningRouter] = {}

    def __call__(self, extra_env: Mapping[str, str] | None = None) -> RunningRouter:
        """A running router with ``extra_env`` added to the environment.

        Raises:
            RuntimeError: If the executable is missing or the router does not
                become healthy in time (the message includes its log).
        """
        key = tuple(sorted((extra_env or {}).items()))
        if key not in self._routers:
            self._routers[key] = self._start(dict(key))
        return self._routers[key]

    def close(self) -> None:
        """Stop every router started by this launcher."""
        while self._routers:
            _, router = self._routers.popitem()
            _stop(router.process)

    def _start(self, extra_env: dict[str, str]) -> RunningRouter:
        executable = router_executable()
        if not executable.exists():
            msg = f"{executable} not found: install the llm-router package first"
            raise RuntimeError(msg)
        port = free_port()
        log_path = self._log_dir / f"llm-router-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(executable), "serve", "--host", _HOST, "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **extra_env},
                # Its own process group, so that workers it forks can be
                # stopped with it and with nothing else.
                start_new_session=True,
            )
        router = RunningRouter(f"http://{_HOST}:{port}", process, log_path)
        try:
            self._wait_until_healthy(router)
        except BaseException:
            _stop(process)
            raise
        return router

    def _wait_until_healthy(self, router: RunningRouter) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if router.process.poll() is not None:
                msg = (
                    f"llm-router exited with {router.process.returncode} during "
                    f"startup:\n{router.log_tail()}"
                )
                raise RuntimeError(msg)
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{router.origin}/health", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        msg = (
            f"llm-router was not healthy after {self._startup_timeout}s:\n"
            f"{router.log_tail()}"
        )
        raise RuntimeError(msg)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        # The process group is the router and the workers it forked, nothing else.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
