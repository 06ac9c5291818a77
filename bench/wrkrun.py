"""Run wrk with wrk_post.lua and parse the JSON line its ``done`` hook prints."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_post.lua"
__all__ = ["WrkError", "WrkResult", "run_wrk", "wrk_version"]

_MARKER = "WRK_JSON "


@dataclass(frozen=True)
class WrkResult:
    connections: int
    duration_s: float
    requests: int
    bytes: int
    non_2xx: int
    """Responses with a status of 400 or more (wrk's ``errors.status``)."""
    socket_errors: int
    """Connect, read, write and timeout errors."""
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    mean_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if not path:
        raise FileNotFoundError("wrk not found")
    return path


def wrk_version() -> str:
    # wrk has no --version flag; -v prints the banner and a usage error.
    out = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, timeout=10)
    # Debian's banner reads "wrk debian/4.1.0-3+b2 [epoll] ...".
    match = re.search(r"wrk\s+(?:\S+/)?(\d[\w.]*)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


class WrkError(RuntimeError):
    pass


def run_wrk(
    url: str,
    body_file: Path,
    *,
    connections: int,
    threads: int,
    duration_s: float,
    timeout_s: float = 10.0,
    bearer_token: str = "",
) -> WrkResult:
    """One fixed-duration wrk run; the subprocess itself is bounded as well."""
    threads = max(1, min(threads, connections))
    argv = [
        wrk_binary(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        f"--script={LUA_SCRIPT}",
        url,
        "--",
        str(body_file),
        bearer_token,
    ]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30)
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(argv)}") from exc
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith(_MARKER)), None)
    if out.returncode != 0 or line is None:
        raise WrkError(f"wrk failed (exit {out.returncode}): {' '.join(argv)}\n{out.stdout}{out.stderr}")
    data = json.loads(line[len(_MARKER) :])

    def ms(key: str) -> float:
        return float(data[key]) / 1000.0

    return WrkResult(
        connections=connections,
        duration_s=data["duration_us"] / 1e6,
        requests=data["requests"],
        bytes=data["bytes"],
        non_2xx=data["errors_status"],
        socket_errors=sum(data[f"errors_{kind}"] for kind in ("connect", "read", "write", "timeout")),
        p50_ms=ms("latency_p50_us"),
        p90_ms=ms("latency_p90_us"),
        p99_ms=ms("latency_p99_us"),
        p999_ms=ms("latency_p99.9_us"),
        mean_ms=ms("latency_mean_us"),
        max_ms=ms("latency_max_us"),
    )
