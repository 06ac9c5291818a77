"""The `llm-router` command: `serve` runs the server, `hash-key` makes client keys for `[keys.<name>]`.

`serve` reads and validates the configuration once, in the supervising process, and refuses to start with a
one-line message when it is invalid or when the address is taken. The workers it starts are given those
settings; they do not read the configuration again.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import math
import os
import resource
import shutil
import socket
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from app import __version__
from app.access import hash_key, new_key
from app.settings import CONFIG_ENV, ConfigError, load_settings

if TYPE_CHECKING:
    from typing import Any

    from granian.server.common import AbstractServer

    from app.rsgi import RSGIServer
    from app.services import Services
    from app.settings import Settings

__all__ = ["main"]

log = logging.getLogger("llm_router")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Files a worker keeps open besides its client connections: upstream connections are counted apart, and this
# covers Redis, metrics files, logs and the interpreter's own.
_SPARE_FILES = 256
# The workers' recent requests for the dashboard live in this folder of that directory
# (`app.shared.recent_files.SHARED_FOLDER`, named here too so that this command stays quick to start).
RECENT_REQUESTS_FOLDER = "recent-requests"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-router", description="An OpenAI-compatible LLM router.")
    parser.add_argument("--version", action="version", version=f"llm-router {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Run the HTTP server.")
    serve.add_argument("--host", help="Address to listen on (default 127.0.0.1).")
    serve.add_argument("--port", type=int, help="Port to listen on (default 8080).")
    serve.add_argument("--config", metavar="FILE", help=f"TOML config file (or set {CONFIG_ENV}).")
    serve.add_argument("--workers", type=int, help="Worker processes (default 1).")
    serve.add_argument(
        "--pin-workers",
        action="store_true",
        default=None,
        help="Keep each worker on one CPU, the workers spread over the CPUs the server may use.",
    )
    hashing = commands.add_parser(
        "hash-key",
        help="Print the sha256 to configure for a client key.",
        description="Hash the client key piped in on standard input. When nothing is piped in (standard "
        "input is a terminal, or empty), or with --generate, generate a new key and print it with its hash. "
        'Configure the hash as `[keys.<name>] sha256 = "..."`; give the key to the client. The router never '
        "stores the key.",
    )
    hashing.add_argument("--generate", action="store_true", help="Generate a new key even if input is piped.")
    args = parser.parse_args(argv)
    if args.command == "hash-key":
        return _hash_key(generate=args.generate)
    return _serve(args)


def _hash_key(*, generate: bool) -> int:
    piped = "" if generate or sys.stdin.isatty() else sys.stdin.read().strip()
    key = piped or new_key()
    if not piped:
        print(f"key:    {key}")
    print(f"sha256: {hash_key(key)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(
            args.config, host=args.host, port=args.port, workers=args.workers, pin_workers=args.pin_workers
        )
    except ConfigError as exc:
        print(f"llm-router: {exc}", file=sys.stderr)
        return 2
    if (taken := address_unavailable(settings.host, settings.port)) is not None:
        print(f"llm-router: {taken}", file=sys.stderr)
        return 1
    # Before anything imports prometheus_client: it picks its storage once, at import, and workers inherit it.
    metrics_dir = _multiprocess_metrics(settings.workers)
    # The slots the workers claim their CPUs by (`app.affinity`), for this server's workers alone.
    cpu_slots = Path(tempfile.mkdtemp(prefix="llm-router-cpus-")) if settings.pin_workers else None
    try:
        return _run(settings, cpu_slots)
    finally:
        for made in (metrics_dir, cpu_slots):
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)


def _run(settings: Settings, cpu_slots: Path | None) -> int:
    try:
        # Fail here, with a readable message, rather than in every worker.
        from app.server import create_app

        services: Services = create_app(settings).state.services
    except ConfigError as exc:
        print(f"llm-router: {exc}", file=sys.stderr)
        return 2
    # This process only supervises: its gauges must not count among the workers'.
    services.metrics.process_ended()

    from app.rsgi import hold_stops
    from app.telemetry.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format, services.redactor)
    _warn_if_open(settings)
    _raise_open_file_limit(settings)
    # A worker inherits this process's signal handlers, which would drop a stop it gets while it loads.
    os.register_at_fork(after_in_child=hold_stops)
    # The name shows in the process list; the workers serve what `target_loader` builds.
    http_server(settings, "app.server:app_from_environment").serve(
        # Typed for ASGI callables; granian looks up `__rsgi__` on what the loader returns.
        target_loader=partial(worker_app, settings, cpu_slots),  # type: ignore[arg-type]
        wrap_loader=False,
    )
    return 0


def http_server(settings: Settings, target: str) -> AbstractServer[Any]:
    """The HTTP server `serve` runs, configured from `settings`, with `target` the name its workers show in the
    process list. The benchmark's stack floor (`bench/floor.py`) runs the same server in front of no router."""
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings

    from app.telemetry.logs import granian_log_config

    return Granian(
        target,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        interface=Interfaces.RSGI,  # the ASGI app behind `app.rsgi`: a cheaper channel to the server
        loop=Loops.uvloop,
        websockets=False,
        # Granian holds a permit per open connection and stops accepting when they run out: with more permits
        # than requests in flight (the defaults), a full worker still takes connections, to answer them 503
        # and to answer /health.
        backpressure=settings.max_connections,
        http1_settings=HTTP1Settings(header_read_timeout=math.ceil(settings.header_timeout * 1000)),
        log_level=settings.log_level.lower(),  # type: ignore[arg-type]
        log_dictconfig=granian_log_config(settings.log_format),
        # On SIGTERM granian stops accepting and lets in-flight requests and streams finish; this bounds the
        # wait, after which the workers are killed.
        workers_kill_timeout=math.ceil(settings.shutdown_timeout),
    )


def worker_app(settings: Settings, cpu_slots: Path | None = None) -> RSGIServer:
    """The app a worker serves, built from the settings `serve` validated (picklable, for spawned workers); with
    `cpu_slots`, the worker is pinned to a CPU (`app.affinity`) before granian starts its threads."""
    from app.rsgi import RSGIServer, hold_stops
    from app.server import create_app
    from app.telemetry.logs import configure_logging

    hold_stops()  # already held since the fork, unless the worker was spawned
    app = create_app(settings)
    services: Services = app.state.services
    configure_logging(settings.log_level, settings.log_format, services.redactor)
    if cpu_slots is not None:
        from app.affinity import pin_worker

        pin_worker(cpu_slots)
    return RSGIServer(app)


def address_unavailable(host: str, port: int) -> str | None:
    """Why the server cannot listen on `host`:`port`, in one line; None when it can.

    The server's sockets set SO_REUSEPORT, which would let a second router bind the port the first still
    serves, the kernel then spreading connections over both. This probe binds without it, so any listener
    already there, a router or another program, makes it fail. (Something that binds the port between this
    check and the server's start still gets in: the check is for mistakes, not for races.)
    """
    if port == 0:
        return None
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"cannot listen on {shown}: something is already listening there (another llm-router?)"
            return f"cannot listen on {shown}: {exc.strerror or exc}"
    return None


def _raise_open_file_limit(settings: Settings) -> None:
    """Let each worker hold `max_connections` client connections and its upstream ones: lift the soft limit.

    Workers inherit the limit. Many systems start processes at a soft limit of 1024 open files, under which a
    worker would fail to accept connections long before `max_connections`.
    """
    needed = settings.max_connections + settings.upstream_max_connections + _SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
        if ceiling < needed:
            log.warning(
                "the open-file limit is %d, and max_connections = %d needs about %d: raise the limit "
                "(ulimit -n, or LimitNOFILE in systemd) or lower max_connections",
                ceiling,
                settings.max_connections,
                needed,
            )


def _warn_if_open(settings: Settings) -> None:
    if settings.keys or _loopback(settings.host):
        return
    log.warning(
        "no client keys are configured and the router listens on %s: anyone who can reach it can use it "
        "(and spend the providers' credit). Add [keys.<name>] tables; `llm-router hash-key` makes keys.",
        settings.host,
    )


def _loopback(host: str) -> bool:
    # The settings accept IP addresses only.
    return ipaddress.ip_address(host).is_loopback


def _multiprocess_metrics(workers: int) -> str | None:
    """With several workers, point Prometheus' multiprocess mode at an empty directory they all write to.

    Returns the directory to remove at exit when this process made it.
    """
    if workers <= 1:
        return None
    configured = os.environ.get(MULTIPROCESS_ENV)
    if configured:
        # Values left by an earlier run would be added to this one's, and its requests shown as this one's.
        for stale in Path(configured).glob("*.db"):
            stale.unlink()
        shutil.rmtree(Path(configured) / RECENT_REQUESTS_FOLDER, ignore_errors=True)
        return None
    directory = tempfile.mkdtemp(prefix="llm-router-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    return directory
