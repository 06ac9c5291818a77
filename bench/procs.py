"""Child processes: start, health-wait, stop, and measure memory and open connections.

Every server is started in its own session, so it and all the processes it
forks (workers) share one process group whose id is the child's pid; stopping
signals exactly that group.  Children also get ``PR_SET_PDEATHSIG`` so they
receive SIGTERM if this script dies without running its cleanup.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ManagedProcess",
    "Memory",
    "ServerFailedError",
    "child_env",
    "established_to",
    "free_port",
    "http_get_status",
    "memory_of",
    "process_tree",
]

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for children: ours, minus proxies, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if extra:
        env.update(extra)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerFailedError(RuntimeError):
    """A server exited, or missed its health check, while starting; the message holds its log's tail."""


class ManagedProcess:
    """A long-running child whose whole process group is stopped on ``stop()``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else child_env(),
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # safe: this program never forks from a second thread
        )
        self.pid = self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_healthy(self, url: str, timeout: float) -> None:
        """Poll ``GET url`` until it answers 200, the process exits, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if not self.running():
                raise ServerFailedError(
                    f"{self.name} exited with status {self.popen.returncode} while starting; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            status = http_get_status(url)
            if status == 200:
                return
            last_error = f"status {status}" if status else "connection refused"
            time.sleep(0.2)
        raise ServerFailedError(
            f"{self.name} not healthy at {url} after {timeout:.0f} s ({last_error}); "
            f"log {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` seconds."""
        try:
            if self.running():
                _signal_group(self.pid, signal.SIGTERM)
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    _signal_group(self.pid, signal.SIGKILL)
                    self.popen.wait(timeout=5)
            # Workers may outlive a master that exited on its own.
            _signal_group(self.pid, signal.SIGKILL)
        finally:
            self._log.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def http_get_status(url: str, timeout: float = 2.0) -> int | None:
    """Status of ``GET url`` (http only), or None when nothing answers."""
    assert url.startswith("http://")
    hostport, _, path = url[len("http://") :].partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        conn.request("GET", "/" + path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    processes: int
    rss_kib: int
    pss_kib: int

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024

    @property
    def pss_mib(self) -> float:
        return self.pss_kib / 1024


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces.
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    tree: list[int] = []
    pending = [root]
    while pending:
        pid = pending.pop()
        if Path(f"/proc/{pid}").exists():
            tree.append(pid)
            pending.extend(children.get(pid, []))
    return tree


def _status_kib(pid: int, key: str, filename: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{filename}").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def memory_of(root_pids: Sequence[int]) -> Memory:
    """RSS and PSS summed over the given processes and their descendants.

    RSS counts pages shared between a master and its forked workers once per
    process, so for multi-process servers it overstates the real footprint;
    PSS divides shared pages among the processes that map them.
    """
    pids = sorted({pid for root in root_pids for pid in process_tree(root)})
    rss = sum(_status_kib(pid, "VmRSS", "status") for pid in pids)
    pss = sum(_status_kib(pid, "Pss", "smaps_rollup") for pid in pids)
    return Memory(processes=len(pids), rss_kib=rss, pss_kib=pss)


# --------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------

_TCP_ESTABLISHED = "01"


def established_to(port: int) -> int:
    """Established TCP connections on this host whose remote end is ``port`` (from /proc/net/tcp{,6})."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # fields[2] is the remote address as HEX_ADDRESS:HEX_PORT, fields[3] the state.
            if fields[3] == _TCP_ESTABLISHED and int(fields[2].rpartition(":")[2], 16) == port:
                count += 1
    return count
