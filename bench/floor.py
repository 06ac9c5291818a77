"""The stack's floor: `llm-router serve`'s HTTP server and upstream client, with no router between them.

    .venv/bin/python bench/floor.py --port 8200 --workers 2 --upstream http://127.0.0.1:8100/v1/chat/completions

Each request's body goes on to `--upstream` the way the router sends a provider request (the router's own
connection pool, `SessionTransport.exchange()`, with a provider's default timeouts), and the answer comes back
as it arrives: a JSON answer whole, a stream piece by piece. The server is the one `serve` runs
(`app.cli.http_server`: granian, RSGI, uvloop, the same limits). There is no routing, validation, request log or
metrics here, so what the router adds over this system is its own work, and what this system adds over
calling the upstream directly is the least any router built on this stack can add on the same machine.

Runs with the router's interpreter (it imports the router); `run.py` starts it as the `stack-floor-*` systems.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import yarl

# The repository's root, for `app` and `providers`: this script runs from anywhere, with the router's interpreter.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import http_server
from app.server import upstream_transport
from app.settings import Settings, load_settings
from providers.base import ProviderSettings
from providers.pool import client_timeout
from providers.transport import attempt_timeout

if TYPE_CHECKING:
    import asyncio

    from granian.rsgi import HTTPProtocol, Scope

# What an OpenAI-compatible provider sends besides the body (the benchmark's upstream checks neither).
_HEADERS = [("authorization", "Bearer sk-bench-upstream"), ("content-type", "application/json")]
_TEXT = [("content-type", "text/plain")]


class Forward:
    """An RSGI app that sends every request's body on to one upstream URL and answers with what it says."""

    def __init__(self, upstream: str, settings: Settings) -> None:
        self._url = yarl.URL(upstream)
        self._transport = upstream_transport(settings)
        timeout = attempt_timeout(ProviderSettings.model_fields["timeout"].default)  # a provider's default
        self._timeouts = client_timeout(timeout.connect, timeout.read, timeout.pool)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self._transport.aclose())

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        if scope.path == "/health":
            protocol.response_bytes(200, _TEXT, b"ok")
            return
        body = await protocol()
        answer = await self._transport.exchange("POST", self._url, _HEADERS, body, self._timeouts)
        try:
            content_type = answer.headers.get("content-type", "application/octet-stream")
            headers = [("content-type", content_type)]
            if content_type.startswith("text/event-stream"):
                stream = protocol.response_stream(answer.status_code, headers)
                async for piece in answer.pieces():
                    await stream.send_bytes(piece)
            else:
                whole = b"".join([piece async for piece in answer.pieces()])
                protocol.response_bytes(answer.status_code, headers, whole)
        finally:
            await answer.aclose()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--upstream", required=True, help="the URL every request's body is sent to")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    settings = load_settings(None, host=args.host, port=args.port, workers=args.workers)
    http_server(settings, "bench.floor:Forward").serve(
        target_loader=partial(Forward, args.upstream, settings),  # type: ignore[arg-type]
        wrap_loader=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
