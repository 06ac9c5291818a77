"""The systems under test: how each is started for one mode, and where it answers.

Every system except *direct* is started fresh for each mode (non-streaming,
streaming) with the matching upstream base URL, and stopped after it: the
router and LiteLLM each take one base URL per provider, and the canned
upstream picks the response shape by path.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import nginx
import payloads
import routerconfig
from procs import ManagedProcess, child_env, free_port

__all__ = [
    "ADMIN_KEY",
    "ALL_SYSTEMS",
    "BEARER_TOKEN",
    "FLOOR_SYSTEMS",
    "HOST",
    "MODES",
    "QUICK_SYSTEMS",
    "ROUTER_SYSTEMS",
    "Launcher",
    "Mode",
    "Target",
]

HOST = "127.0.0.1"
BEARER_TOKEN = "sk-bench-0123456789abcdef0123456789abcdef"
"""Sent to every system; LiteLLM refuses to start without a master key, and this is it."""
ADMIN_KEY = "sk-bench-admin-fedcba9876543210fedcba9876543210"
"""The router's admin key (`LLM_ROUTER_ADMIN_KEY`) when a scenario turns its dashboard on."""

ALL_SYSTEMS = (
    "direct",
    "nginx-proxy",
    "stack-floor-1w",
    "stack-floor-2w",
    "llm-router-1w",
    "llm-router-2w",
    "llm-router-1w-pinned",
    "llm-router-2w-pinned",
    "litellm",
)
QUICK_SYSTEMS = ("direct", "nginx-proxy", "llm-router-1w")
ROUTER_SYSTEMS = ("llm-router-1w", "llm-router-2w", "llm-router-1w-pinned", "llm-router-2w-pinned")
"""The router with 1 or 2 workers, as configured by default or with its workers pinned to CPUs (`--pin-workers`)."""
FLOOR_SYSTEMS = ("stack-floor-1w", "stack-floor-2w")
"""The router's server and upstream client with 1 or 2 workers and no router between them (`floor.py`)."""
MODES = ("non-stream", "stream")

# Variables that would change what the router or LiteLLM do, if inherited from the caller's shell.
_FOREIGN_SETTINGS = ("LLM_ROUTER_", "OPENROUTER_", "DEEPSEEK_", "OPENAI_", "LITELLM_")
_FOREIGN_NAMES = ("DATABASE_URL", "REDIS_HOST", "REDIS_URL", "REDIS_PASSWORD")


@dataclass(frozen=True)
class Mode:
    name: str

    @property
    def stream(self) -> bool:
        return self.name == "stream"

    @property
    def upstream_prefix(self) -> str:
        return nginx.STREAM_PREFIX if self.stream else nginx.JSON_PREFIX


@dataclass(frozen=True)
class Target:
    """A system running and configured for one mode."""

    port: int
    path: str
    process: ManagedProcess | None
    startup_s: float | None
    root_pids: list[int]
    """Processes whose trees make up the server, for memory accounting."""

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.path}"


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    inherited = child_env()
    env = {k: v for k, v in inherited.items() if not k.startswith(_FOREIGN_SETTINGS) and k not in _FOREIGN_NAMES}
    env.update(extra)
    return env


class Launcher:
    """Starts the canned upstream once and the systems under test on demand; stops them all."""

    def __init__(self, workdir: Path, router_exe: Path | None, litellm_exe: Path | None, hold_s: float | None) -> None:
        """``hold_s``: how long the upstream holds a slow stream open; None for no slow streams."""
        self.workdir = workdir
        self.hold_s = hold_s
        self.router_exe = router_exe
        self.litellm_exe = litellm_exe
        self.upstream_port = free_port()
        self._upstream: ManagedProcess | None = None
        self._running: list[ManagedProcess] = []

    # -- process bookkeeping ---------------------------------------------------

    def _track(self, proc: ManagedProcess) -> ManagedProcess:
        self._running.append(proc)
        return proc

    def stop(self, target: Target) -> None:
        if target.process is not None:
            target.process.stop()
            if target.process in self._running:
                self._running.remove(target.process)

    def stop_all(self) -> None:
        """Stop everything started, newest first; a second Ctrl-C cannot interrupt this."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for proc in reversed(self._running):
                with contextlib.suppress(Exception):
                    proc.stop()
            self._running.clear()
        finally:
            signal.signal(signal.SIGINT, previous)

    # -- systems -----------------------------------------------------------------

    def start_upstream(self) -> None:
        conf = nginx.write_upstream(self.workdir, self.upstream_port, self.hold_s)
        self._upstream = self._track(nginx.start("upstream", self.workdir, conf))
        self._upstream.wait_healthy(f"http://{HOST}:{self.upstream_port}/health", timeout=15)

    def upstream_base(self, mode: Mode) -> str:
        return f"http://{HOST}:{self.upstream_port}{mode.upstream_prefix}"

    def direct(self, path: str) -> Target:
        """The canned upstream itself, at ``path``."""
        assert self._upstream is not None, "start_upstream() first"
        return Target(self.upstream_port, path, None, None, [self._upstream.pid])

    def start(self, system: str, mode: Mode) -> Target:
        """Start ``system`` for ``mode`` and wait until its health check passes."""
        assert self._upstream is not None, "start_upstream() first"
        chat = nginx.CHAT_PATH
        if system == "direct":
            return self.direct(mode.upstream_prefix + chat)
        if system in ROUTER_SYSTEMS:
            return self.start_router(system, mode.upstream_prefix, mode.name)
        port = free_port()
        started = time.monotonic()
        if system == "nginx-proxy":
            conf = nginx.write_proxy(self.workdir, port, self.upstream_port)
            proc = self._track(nginx.start("proxy", self.workdir, conf))
            path, health, timeout = mode.upstream_prefix + chat, "/health", 15.0
        elif system in FLOOR_SYSTEMS:
            proc = self._start_floor(system, mode, port)
            path, health, timeout = "/v1" + chat, "/health", 60.0
        elif system == "litellm":
            proc = self._start_litellm(mode, port)
            path, health, timeout = "/v1" + chat, "/health/liveliness", 180.0
        else:
            raise ValueError(f"unknown system {system!r}")
        proc.wait_healthy(f"http://{HOST}:{port}{health}", timeout=timeout)
        return Target(port, path, proc, time.monotonic() - started, [proc.pid])

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        log_path = self.workdir / f"{name}.log"
        return self._track(ManagedProcess(name, argv, log_path, env=env, cwd=self.workdir))

    def start_router(
        self, system: str, upstream_prefix: str, label: str, *, agent: bool = False, admin_key: str | None = None
    ) -> Target:
        """Start ``system`` (an llm-router) with its OpenRouter base URL at ``upstream_prefix``.

        ``label`` names its config and log; ``agent`` adds the agent scenario's toolset and agent;
        ``admin_key`` turns the admin endpoints and the dashboard on.
        """
        assert self.router_exe is not None
        assert self._upstream is not None, "start_upstream() first"
        name = f"{system}-{label}"
        tool_url = f"http://{HOST}:{self.upstream_port}{nginx.TOOL_PATH}" if agent else None
        config = routerconfig.write_router_config(self.workdir / f"{name}.toml", self.workdir, tool_url)
        base_url = f"http://{HOST}:{self.upstream_port}{upstream_prefix}"
        env = _clean_env({"OPENROUTER_API_KEY": "sk-or-bench-dummy", "OPENROUTER_BASE_URL": base_url})
        if admin_key is not None:
            env["LLM_ROUTER_ADMIN_KEY"] = admin_key
        port = free_port()
        workers, _, variant = system.removeprefix("llm-router-").partition("-")
        argv = [str(self.router_exe), "serve", "--host", HOST, "--port", str(port), "--workers", workers.rstrip("w")]
        if variant == "pinned":
            argv.append("--pin-workers")
        started = time.monotonic()
        proc = self._spawn(name, [*argv, "--config", str(config)], env)
        proc.wait_healthy(f"http://{HOST}:{port}/health", timeout=60.0)
        return Target(port, "/v1" + nginx.CHAT_PATH, proc, time.monotonic() - started, [proc.pid])

    def _start_floor(self, system: str, mode: Mode, port: int) -> ManagedProcess:
        """``system`` (`floor.py`, with the router's interpreter) in front of the upstream for ``mode``."""
        assert self.router_exe is not None
        workers = system.removeprefix("stack-floor-").rstrip("w")
        upstream = self.upstream_base(mode) + nginx.CHAT_PATH
        argv = [str(self.router_exe.with_name("python")), str(Path(__file__).with_name("floor.py"))]
        argv += ["--host", HOST, "--port", str(port), "--workers", workers, "--upstream", upstream]
        return self._spawn(f"{system}-{mode.name}", argv, _clean_env({}))

    def _start_litellm(self, mode: Mode, port: int) -> ManagedProcess:
        assert self.litellm_exe is not None
        config = self.workdir / f"litellm-{mode.name}.yaml"
        # JSON is a subset of YAML, so writing the config needs no YAML library.
        config.write_text(
            json.dumps(
                {
                    "model_list": [
                        {
                            "model_name": payloads.MODEL_ALIAS,
                            "litellm_params": {
                                "model": f"openai/{payloads.UPSTREAM_MODEL}",
                                "api_base": self.upstream_base(mode),
                                "api_key": "sk-bench-dummy",
                            },
                        }
                    ],
                    "litellm_settings": {"telemetry": False, "set_verbose": False, "request_timeout": 30},
                    "general_settings": {"master_key": BEARER_TOKEN, "disable_spend_logs": True},
                },
                indent=2,
            )
        )
        env = _clean_env(
            {
                "LITELLM_LOG": "ERROR",
                # Skip reading a .env file, and the network fetch of the model cost map.
                "LITELLM_MODE": "PRODUCTION",
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            }
        )
        argv = [str(self.litellm_exe), "--config", str(config), "--host", HOST, "--port", str(port)]
        argv += ["--num_workers", "1"]
        return self._spawn(f"litellm-{mode.name}", argv, env)
