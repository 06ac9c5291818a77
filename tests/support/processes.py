"""Running the real `llm-router` command on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

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
    from collections.abc import Generator, Mapping

__all__ = ["RouterProcess", "children", "free_port", "run_router"]

LLM_ROUTER = Path(sys.executable).with_name("llm-router")
# Variables from the developer's own shell must not leak into a test server.
_SCRUBBED_PREFIXES = (
    "LLM_ROUTER_",
    "OPENROUTER_",
    "DEEPSEEK_",
    "ANTHROPIC_",
    "MOCK_",
    "REDIS_URL",
    "PROMETHEUS_MULTIPROC_DIR",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RouterProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def run_router(
    log_dir: Path, env: Mapping[str, str] | None = None, args: tuple[str, ...] = (), *, healthy: bool = True
) -> Generator[RouterProcess, None, None]:
    """Start `llm-router serve` on a free port, wait until /health answers (unless not `healthy`), stop it
    afterwards."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    # What the router keeps by default (API toolsets and agents) stays with the test, not in the user's home.
    environment["XDG_DATA_HOME"] = str(log_dir / "data")
    environment.update(env or {})
    log = log_dir / f"router-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(LLM_ROUTER), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    router = RouterProcess(process, port, log)
    try:
        if healthy:
            _wait_healthy(router)
        yield router
    finally:
        _stop(process)


def children(pid: int) -> list[int]:
    """The processes `pid` started (a server's workers)."""
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listing:
        return [int(child) for child in listing.read().split()]


def _wait_healthy(router: RouterProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if router.process.poll() is not None:
            raise RuntimeError(f"llm-router exited with {router.process.returncode}:\n{router.logs()}")
        try:
            if httpx.get(f"{router.root_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"llm-router did not become healthy in {timeout} s:\n{router.logs()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
