"""The tool servers the registry's end-to-end tests call, all on 127.0.0.1.

`ToolServer` is an aiohttp server in a thread of its own: an n8n-style webhook (`/weather`), a slow one, a
failing one, a redirecting one, an oversized answer, and an OpenAPI document with the operations it
describes. `run_mcp_server` starts the official SDK's MCP server as a process (`mcp_server.py`).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from aiohttp import web

from tests.support.processes import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ToolServer", "run_mcp_server"]

BIG = 2 * 1024 * 1024


class ToolServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[dict[str, Any]] = []
        self.flaky_calls = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/weather", self._weather)
        app.router.add_get("/forecast", self._forecast)
        app.router.add_post("/slow", self._slow)
        app.router.add_post("/fail", self._fail)
        app.router.add_post("/flaky", self._flaky)
        app.router.add_post("/redirect", self._redirect)
        app.router.add_post("/big", self._big)
        app.router.add_get("/openapi.json", self._openapi)
        app.router.add_get("/api/pets/{pet_id}", self._pet)
        app.router.add_post("/api/pets", self._create_pet)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    async def _weather(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append({"path": "/weather", "body": body, "headers": dict(request.headers)})
        return web.json_response({"city": body.get("city"), "temperature": 21})

    async def _forecast(self, request: web.Request) -> web.Response:
        return web.json_response({"query": dict(request.query)})

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"late": True})

    async def _fail(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "the workflow failed"}, status=500)

    async def _flaky(self, request: web.Request) -> web.Response:
        self.flaky_calls += 1
        if self.flaky_calls % 2:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"ok": True})

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data")

    async def _big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * BIG, content_type="text/plain")

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document())

    async def _pet(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"id": int(request.match_info["pet_id"]), "name": "Rex", "verbose": request.query.get("verbose")}
        )

    async def _create_pet(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"created": body}, status=201)


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "1.2.0"},
        "servers": [{"url": "/api"}],
        "paths": {
            "/pets/{pet_id}": {
                "get": {
                    "operationId": "getPet",
                    "summary": "Find a pet by id.",
                    "parameters": [
                        {"name": "pet_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                        {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
                        }
                    },
                }
            },
            "/pets": {
                "post": {
                    "operationId": "pets.create",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}},
                    },
                    "responses": {"201": {"description": "created"}},
                }
            },
        },
        "components": {
            "schemas": {
                "Pet": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
                "NewPet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            }
        },
    }


def json_of(reference: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": reference}}}


def run_mcp_server(log_dir: Path, *, legacy_only: bool = False) -> Iterator[str]:
    """Start the SDK's MCP server; yield its URL; stop it afterwards."""
    port = free_port()
    args = [sys.executable, "-m", "tests.e2e.tools.mcp_server", str(port), *(["--legacy-only"] if legacy_only else [])]
    log = (log_dir / f"mcp-{port}.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[3])
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the MCP server exited: {(log_dir / f'mcp-{port}.log').read_text()}")
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()
