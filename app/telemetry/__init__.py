"""Watching the router: Prometheus metrics, one structured log line per request, redacted logs.

metrics     the Prometheus metrics and `GET /metrics` (multiprocess-aware)
requests    the middleware that turns each request into a log line and metrics, and the routing observer
logs        log formatting (text or JSON), the secret-redacting filter, and logging set-up
"""

from __future__ import annotations

from app.telemetry.logs import Redactor, configure_logging
from app.telemetry.metrics import Metrics
from app.telemetry.requests import RequestObserver, RoutingTelemetry

__all__ = ["Metrics", "Redactor", "RequestObserver", "RoutingTelemetry", "configure_logging"]
