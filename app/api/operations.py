"""The operational endpoints: liveness, readiness, Prometheus metrics and the router's OpenAPI description.

`GET /health` answers as soon as the process serves HTTP. `GET /ready` answers 200 once the worker has
started, with `"redis": "down"` and status `degraded` when Redis is configured but unreachable (the router
still serves, on local state), and 503 while starting or once shutdown has begun. `GET /metrics` is open
to scrapers on the same host and needs the admin key from anywhere else (applied where the app is built).
"""

from __future__ import annotations

import msgspec
from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.inject import Injected
from app.lifecycle import Lifecycle
from app.openapi import description
from app.routing import HealthBoard
from app.shared import SharedState
from app.telemetry.metrics import Metrics

__all__ = ["health", "metrics_endpoint", "openapi_document", "readiness"]

_encoder = msgspec.json.Encoder()
_HEALTHY = _encoder.encode({"status": "ok"})


@get("/health", include_in_schema=False)
async def health() -> Response[bytes]:
    return Response(_HEALTHY, media_type="application/json")


@get("/ready", include_in_schema=False)
async def readiness(lifecycle: Injected[Lifecycle], shared: Injected[SharedState]) -> Response[bytes]:
    if lifecycle.draining or not lifecycle.started:
        status = "shutting down" if lifecycle.draining else "starting"
        return Response(_encoder.encode({"status": status}), status_code=503, media_type="application/json")
    body: dict[str, str] = {"status": "ready"}
    if shared.redis is not None:
        body = {"status": "degraded", "redis": "down"} if shared.degraded else {"status": "ready", "redis": "up"}
    return Response(_encoder.encode(body), media_type="application/json")


@get("/metrics", include_in_schema=False)
async def metrics_endpoint(metrics: Injected[Metrics], board: Injected[HealthBoard]) -> Response[bytes]:
    metrics.targets_seen(await board.snapshot())
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@get("/openapi.json", include_in_schema=False)
async def openapi_document() -> Response[bytes]:
    return Response(description(), media_type="application/json")
