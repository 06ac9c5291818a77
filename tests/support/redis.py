"""A real `redis-server` on a free loopback port, for the tests of state shared through Redis."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.processes import free_port

__all__ = ["REDIS_SERVER", "RedisServer"]

REDIS_SERVER = Path("/usr/bin/redis-server")


@dataclass
class RedisServer:
    """One redis-server process; `stop` and `start` again keep its port.

    Without persistence a restart comes back empty. A `persistent` server writes every command to its
    append-only file before answering, so a restart comes back with all it had, as a production one would.
    """

    directory: Path
    port: int = field(default_factory=free_port)
    persistent: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not REDIS_SERVER.exists():
            pytest.fail(
                f"redis-server is not installed at {REDIS_SERVER}; the shared-state tests need a real one. "
                "Install it with: apt-get install -y redis-server"
            )
        with (self.directory / f"redis-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(REDIS_SERVER),
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    *(
                        ("--appendonly", "yes", "--appendfsync", "always", "--appendfilename", f"{self.port}.aof")
                        if self.persistent
                        else ("--appendonly", "no")
                    ),
                ],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._answers():
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill the server at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it keeps its connections and its data but answers nothing, as a
        hung server or a network partition would, until `resume`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False
