"""The `llm-router` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app import __version__
from app.settings import CONFIG_ENV, ConfigError, load_settings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-router", description="An OpenAI-compatible LLM router.")
    parser.add_argument("--version", action="version", version=f"llm-router {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Run the HTTP server.")
    serve.add_argument("--host", help="Address to listen on (default 127.0.0.1).")
    serve.add_argument("--port", type=int, help="Port to listen on (default 8080).")
    serve.add_argument("--config", metavar="FILE", help=f"TOML config file (or set {CONFIG_ENV}).")
    serve.add_argument("--workers", type=int, help="Worker processes (default 1).")
    args = parser.parse_args(argv)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    if args.config:
        # Workers are separate processes: they find the file through the environment.
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    try:
        settings = load_settings(host=args.host, port=args.port, workers=args.workers)
        # Fail here, with a readable message, rather than in every worker.
        from app.server import create_app

        create_app(settings)
    except ConfigError as exc:
        print(f"llm-router: {exc}", file=sys.stderr)
        return 2

    from granian import Granian
    from granian.constants import Interfaces, Loops

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
    ).serve()
    return 0
