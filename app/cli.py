"""The `llm-router` command: `serve` runs the server, `hash-key` makes client keys for `[keys.<name>]`."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from app import __version__
from app.access import hash_key, new_key
from app.settings import CONFIG_ENV, ConfigError, load_settings

if TYPE_CHECKING:
    from app.services import Services
    from app.settings import Settings

__all__ = ["main"]

log = logging.getLogger("llm_router")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
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
    hashing = commands.add_parser(
        "hash-key",
        help="Print the sha256 to configure for a client key.",
        description="Hash the client key read from standard input, or, when nothing is piped in (or with "
        "--generate), generate a new key and print it with its hash. Configure the hash as "
        '`[keys.<name>] sha256 = "..."`; give the key to the client. The router never stores the key.',
    )
    hashing.add_argument("--generate", action="store_true", help="Generate a new key even if input is piped.")
    args = parser.parse_args(argv)
    if args.command == "hash-key":
        return _hash_key(generate=args.generate)
    return _serve(args)


def _hash_key(*, generate: bool) -> int:
    if generate or sys.stdin.isatty():
        key = new_key()
        print(f"key:    {key}")
    else:
        key = sys.stdin.read().strip()
        if not key:
            print("llm-router: no key on standard input (pipe one in, or use --generate)", file=sys.stderr)
            return 2
    print(f"sha256: {hash_key(key)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    if args.config:
        # Workers are separate processes: they find the file through the environment.
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    try:
        settings = load_settings(host=args.host, port=args.port, workers=args.workers)
    except ConfigError as exc:
        print(f"llm-router: {exc}", file=sys.stderr)
        return 2
    # Before anything imports prometheus_client: it picks its storage once, at import, and workers inherit it.
    metrics_dir = _multiprocess_metrics(settings.workers)
    try:
        return _run(settings)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _run(settings: Settings) -> int:
    try:
        # Fail here, with a readable message, rather than in every worker.
        from app.server import create_app

        services: Services = create_app(settings).state.services
    except ConfigError as exc:
        print(f"llm-router: {exc}", file=sys.stderr)
        return 2
    # This process only supervises: its gauges must not count among the workers'.
    services.metrics.process_ended()

    from granian import Granian
    from granian.constants import Interfaces, Loops

    from app.telemetry.logs import configure_logging, granian_log_config

    configure_logging(settings.log_level, settings.log_format, services.redactor)
    _warn_if_open(settings)
    Granian(
        "app.server:app_from_environment",
        factory=True,
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        websockets=False,
        log_level=settings.log_level.lower(),  # type: ignore[arg-type]
        log_dictconfig=granian_log_config(settings.log_format),
        # On SIGTERM granian stops accepting and lets in-flight requests and streams finish; this bounds the
        # wait, after which the workers are killed.
        workers_kill_timeout=math.ceil(settings.shutdown_timeout),
    ).serve()
    return 0


def _warn_if_open(settings: Settings) -> None:
    if settings.keys or _loopback(settings.host):
        return
    log.warning(
        "no client keys are configured and the router listens on %s: anyone who can reach it can use it "
        "(and spend the providers' credit). Add [keys.<name>] tables; `llm-router hash-key` makes keys.",
        settings.host,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
