"""Prometheus metrics: what the router counts (`GET /metrics` exposes them, `app.api.operations`).

    llm_router_requests_total{route, model, status}                 HTTP requests answered
    llm_router_request_duration_seconds{route}                      whole requests, to the end of a stream
    llm_router_upstream_attempts_total{target, outcome}             attempts on each target, by outcome
    llm_router_upstream_attempt_duration_seconds{target}            attempts (to the first chunk for streams)
    llm_router_fallbacks_total{model, target}                       a request gave up on `target` for another
    llm_router_circuit_state{target}                                0 closed, 1 half-open, 2 open
    llm_router_target_in_flight{target}                             attempts in flight, as the board counts
    llm_router_tokens_total{model, key, direction}                  usage reported upstream (in / out)
    llm_router_tool_calls_total{model, key}                         tool calls in answers
    llm_router_streams_in_flight{route}                             streamed answers being sent
    llm_router_rate_limited_total{key, limit}                       requests a client key's own limit refused
    llm_router_redis_up                                             1 while Redis answers, 0 on local state
                                                                    (only when Redis is configured)
    llm_router_tool_invocations_total{tool, outcome}                registry tool invocations, by outcome
    llm_router_tool_invocation_duration_seconds{tool}               registry tool invocations, retries included

`model` on requests is the model asked for, except for client errors (4xx other than 429), whose names
may be anything a client typed; on tokens and tool calls it is the target that served. `key` is a client
key's name ("" on an open router). Circuit and in-flight gauges are read from the health board at scrape
time, so with Redis they are the shared view.

Every label a client can choose stays bounded (`ModelLabels`): configured aliases and their targets always
have labels of their own, other model and target names get one while fewer than `metrics_label_limit` have
been seen by the worker, and the rest are counted together as `<provider>/other`. However many model names
clients invent, a scrape stays the same size.

With several server workers, each is its own process: the CLI points `PROMETHEUS_MULTIPROC_DIR` at a fresh
directory, every worker writes its values there, and a scrape on any worker adds them all up.

Recording is on every request's path, so labelled children are looked up once and then kept.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

from app.routing import CircuitState

if TYPE_CHECKING:
    from collections.abc import Iterable

    from app.context import RequestContext
    from app.routing import Outcome, TargetStatus
    from app.tools.invocations import Invocation

__all__ = ["MULTIPROCESS_ENV", "Metrics", "ModelLabels"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# From a cached answer on the same host to a long agent turn.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
_CIRCUIT_VALUES = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}
_TRUSTED_ERRORS = frozenset((429,))

M = TypeVar("M", Counter, Gauge, Histogram)


class _Labelled(Generic[M]):
    """A metric's labelled children, each made once (prometheus' `labels()` validates and locks every time)."""

    def __init__(self, metric: M) -> None:
        self.metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *labels: str) -> M:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self.metric.labels(*labels)
        return child


class ModelLabels:
    """The label for a model or target name, from a bounded set (see the module docstring)."""

    def __init__(self, configured: Iterable[str] = (), limit: int = 256) -> None:
        self._configured = frozenset(configured)
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, name: str) -> str:
        if name in self._configured or name in self._seen:
            return name
        if len(self._seen) < self._limit:
            self._seen.add(name)
            return name
        provider, slash, _ = name.partition("/")
        return f"{provider}/other" if slash else "other"


class Metrics:
    """The router's metrics, in a registry of their own (several apps may live in one test process)."""

    def __init__(self, *, redis: bool = False, labels: ModelLabels | None = None) -> None:
        self.labels = labels or ModelLabels()
        self.multiprocess = MULTIPROCESS_ENV in os.environ
        self.registry = registry = CollectorRegistry()
        self.requests = _Labelled(
            Counter("llm_router_requests", "HTTP requests answered.", ["route", "model", "status"], registry=registry)
        )
        self.request_seconds = _Labelled(
            Histogram(
                "llm_router_request_duration_seconds",
                "Time to answer a request, to the end of a stream.",
                ["route"],
                buckets=_REQUEST_BUCKETS,
                registry=registry,
            )
        )
        self.attempts = _Labelled(
            Counter(
                "llm_router_upstream_attempts",
                "Upstream attempts, by target and outcome (success, failure, rate_limited, neutral, not_found).",
                ["target", "outcome"],
                registry=registry,
            )
        )
        self.attempt_seconds = _Labelled(
            Histogram(
                "llm_router_upstream_attempt_duration_seconds",
                "Time of one upstream attempt (to the first chunk for streams).",
                ["target"],
                buckets=_REQUEST_BUCKETS,
                registry=registry,
            )
        )
        self.fallbacks = _Labelled(
            Counter(
                "llm_router_fallbacks",
                "Times a request moved on from a target to another.",
                ["model", "target"],
                registry=registry,
            )
        )
        self.circuit = _Labelled(
            Gauge(
                "llm_router_circuit_state",
                "Circuit of each target: 0 closed, 1 half-open, 2 open.",
                ["target"],
                registry=registry,
                multiprocess_mode="mostrecent",
            )
        )
        self.target_in_flight = _Labelled(
            Gauge(
                "llm_router_target_in_flight",
                "Attempts in flight on each target, as the health board counts them.",
                ["target"],
                registry=registry,
                multiprocess_mode="mostrecent",
            )
        )
        self.tokens = _Labelled(
            Counter(
                "llm_router_tokens",
                "Tokens the upstreams reported, by model served, client key and direction (in, out).",
                ["model", "key", "direction"],
                registry=registry,
            )
        )
        self.tool_calls = _Labelled(
            Counter("llm_router_tool_calls", "Tool calls in answers.", ["model", "key"], registry=registry)
        )
        self.streams = _Labelled(
            Gauge(
                "llm_router_streams_in_flight",
                "Streamed answers being sent.",
                ["route"],
                registry=registry,
                multiprocess_mode="livesum",
            )
        )
        self.rate_limited = _Labelled(
            Counter(
                "llm_router_rate_limited",
                "Requests refused by a client key's own limit.",
                ["key", "limit"],
                registry=registry,
            )
        )
        self.tool_invocations = _Labelled(
            Counter(
                "llm_router_tool_invocations",
                "Registry tool invocations, by tool and outcome (success, tool_error, timeout, ...).",
                ["tool", "outcome"],
                registry=registry,
            )
        )
        self.tool_seconds = _Labelled(
            Histogram(
                "llm_router_tool_invocation_duration_seconds",
                "Time of a registry tool invocation, retries included.",
                ["tool"],
                buckets=_REQUEST_BUCKETS,
                registry=registry,
            )
        )
        # Only where Redis is configured: elsewhere "0" would read as an outage.
        self.redis_up = (
            Gauge(
                "llm_router_redis_up",
                "1 while Redis answers; 0 while the router runs on its local state instead.",
                registry=registry,
                multiprocess_mode="livemin",
            )
            if redis
            else None
        )

    # ------------------------------------------------------------------------------------------ recording

    def request_finished(self, context: RequestContext, route: str, seconds: float) -> None:
        status = context.status or 500
        trusted = status < 400 or status >= 500 or status in _TRUSTED_ERRORS
        self.requests(route, self.labels(context.model) if trusted and context.model else "", str(status)).inc()
        self.request_seconds(route).observe(seconds)
        key = context.key_name or ""
        if context.rate_limited is not None:
            self.rate_limited(key, context.rate_limited).inc()
        if context.target is None:
            return
        served = self.labels(context.target)
        if context.prompt_tokens:
            self.tokens(served, key, "in").inc(context.prompt_tokens)
        if context.completion_tokens:
            self.tokens(served, key, "out").inc(context.completion_tokens)
        if context.tool_calls:
            self.tool_calls(served, key).inc(context.tool_calls)

    def stream_started(self, route: str) -> None:
        self.streams(route).inc()

    def stream_ended(self, route: str) -> None:
        self.streams(route).dec()

    def attempt_finished(self, target: str, outcome: Outcome, seconds: float) -> None:
        label = self.labels(target)
        self.attempts(label, outcome.value).inc()
        self.attempt_seconds(label).observe(seconds)

    def fell_back(self, model: str, target: str) -> None:
        self.fallbacks(self.labels(model), self.labels(target)).inc()

    def targets_seen(self, statuses: list[TargetStatus]) -> None:
        # Folded targets share a label: a gauge shows the worst circuit and the total in flight among them.
        circuits: dict[str, int] = {}
        in_flight: dict[str, int] = {}
        for status in statuses:
            label = self.labels(status.target)
            circuits[label] = max(circuits.get(label, 0), _CIRCUIT_VALUES[status.state])
            in_flight[label] = in_flight.get(label, 0) + status.in_flight
        for label, value in circuits.items():
            self.circuit(label).set(value)
            self.target_in_flight(label).set(in_flight[label])

    def tool_invoked(self, invocation: Invocation) -> None:
        self.tool_invocations(invocation.tool, invocation.outcome).inc()
        self.tool_seconds(invocation.tool).observe(invocation.duration_ms / 1000)

    def redis_available(self, up: bool) -> None:
        if self.redis_up is not None:
            self.redis_up.set(1 if up else 0)

    # ----------------------------------------------------------------------------------------- exposition

    def exposition(self) -> bytes:
        if self.multiprocess:
            # Every worker's values, from the shared directory (the documented way: a fresh registry per scrape).
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def process_ended(self) -> None:
        """Drop this worker's live gauges from the shared directory (it is going away)."""
        if self.multiprocess:
            prometheus_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
