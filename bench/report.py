"""Results of one run, and their rendering as markdown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from httpclient import percentile

if TYPE_CHECKING:
    from procs import Memory
    from wrkrun import WrkResult

__all__ = [
    "CrossCheck",
    "DashboardRun",
    "Dashboards",
    "Failure",
    "Fidelity",
    "Footprint",
    "LongHistory",
    "Measurement",
    "Probes",
    "Report",
    "SlowStreams",
    "Soak",
    "ToolRound",
    "duration_text",
    "render",
]

NOT_APPLICABLE = "-"


@dataclass
class Measurement:
    system: str
    mode: str
    wrk: WrkResult


@dataclass
class Footprint:
    system: str
    mode: str
    startup_s: float | None
    idle: Memory
    after: Memory


@dataclass
class Failure:
    system: str
    mode: str
    stage: str
    problems: list[str]
    request: str = ""
    response: str = ""


@dataclass
class Fidelity:
    system: str
    mode: str
    differences: list[str]


@dataclass
class CrossCheck:
    system: str
    mode: str
    requests: int
    p50_ms: float
    p99_ms: float


@dataclass
class Soak:
    system: str
    mode: str
    requests: int
    connections: int
    seconds: float
    errors: int
    first_error: str
    start: Memory
    half: Memory
    end: Memory


@dataclass
class ToolRound:
    """The agent scenario: an agent request (two model calls, one tool call) beside one plain routed request."""

    system: str
    agent: WrkResult
    """The agent request at one connection."""
    agent_loaded: WrkResult
    """The agent request at the highest connection count."""
    plain: WrkResult
    """The agent's first round sent as a plain request to the alias, at one connection, same router."""
    direct_model: WrkResult
    direct_tool: WrkResult
    plain_calls: tuple[float, float]
    """Calls the upstream had per plain request answered (model, tool), counted by the upstream."""
    agent_calls: tuple[float, float]
    """The same per agent request: (2, 1) for one tool round."""
    problems: list[str]
    round_ms: float = 0.0
    """What one tool round adds to a request: agent p50 minus plain p50."""
    router_round_ms: float = 0.0
    """The router's own cost of a round: ``round_ms`` minus what the model and the tool take, called directly."""
    minus_two_plain_ms: float = 0.0
    """Agent p50 minus two plain p50s (understates a round by the client-facing work done once)."""

    def __post_init__(self) -> None:
        self.round_ms = self.agent.p50_ms - self.plain.p50_ms
        self.router_round_ms = self.round_ms - self.direct_model.p50_ms - self.direct_tool.p50_ms
        self.minus_two_plain_ms = self.agent.p50_ms - 2 * self.plain.p50_ms


@dataclass
class Probes:
    """Latencies of health probes sent one at a time, each on a fresh connection."""

    count: int
    failed: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, latencies_s: list[float], failed: int) -> Probes:
        ordered = sorted(latencies_s)
        p50, p99 = (percentile(ordered, p) * 1000 for p in (50, 99))
        return cls(len(ordered), failed, p50, p99, ordered[-1] * 1000 if ordered else float("nan"))


@dataclass
class SlowStreams:
    """The slow-streams scenario: memory while N streams are open at once."""

    system: str
    streams: int
    hold_s: float
    open_s: float
    """Time until every stream's first event had arrived."""
    idle: Memory
    opened: Memory
    after: Memory
    """After every stream ended."""
    completed: int
    """Streams that ended and passed the stream check."""
    problems: list[str]
    upstream_connections: int
    """Established connections to the upstream when every stream was open (idle keep-alive ones included)."""
    health_floor: Probes
    """The same probes of the canned upstream's nginx: what the probing itself costs."""
    health_idle: Probes
    health_open: Probes
    """``GET /health`` while every stream was open."""
    rss_per_stream_mib: float = 0.0
    pss_per_stream_mib: float = 0.0

    def __post_init__(self) -> None:
        self.rss_per_stream_mib = (self.opened.rss_kib - self.idle.rss_kib) / 1024 / self.streams
        self.pss_per_stream_mib = (self.opened.pss_kib - self.idle.pss_kib) / 1024 / self.streams


@dataclass
class LongHistory:
    """The long-history scenario in one mode: the router against the direct upstream, same request."""

    system: str
    mode: str
    request_bytes: int
    direct: WrkResult
    router: WrkResult
    router_loaded: WrkResult


OFF, NONE_OPEN, OPEN = "off", "none open", "open"
"""The dashboards scenario's cases: no admin key; the admin key with no dashboard open; with dashboards open."""


@dataclass
class DashboardRun:
    """One wrk run of the dashboards scenario."""

    case: str
    """``OFF``, ``NONE_OPEN`` or ``OPEN``."""
    wrk: WrkResult
    updates_per_s: float | None = None
    """Updates (``overview`` events) each open dashboard received a second during the run: one over the mean
    time between two."""
    kib_per_s: float | None = None
    """KiB each open dashboard received a second during the run."""


@dataclass
class Dashboards:
    """The dashboards scenario: chat requests with no dashboard open, with some open, and with the dashboard off."""

    system: str
    dashboards: int
    update_interval_s: float = 1.0
    per_worker: list[int] = field(default_factory=list)
    """Open dashboards on each worker serving any, most first."""
    on_single_worker: int | None = None
    """Open dashboards on the worker that served the one-connection run."""
    longest_update_wait_s: float = 0.0
    """The longest any open dashboard waited between two updates during the runs."""
    runs: list[DashboardRun] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def find(self, case: str, connections: int) -> DashboardRun | None:
        return next((r for r in self.runs if (r.case, r.wrk.connections) == (case, connections)), None)

    def connection_counts(self) -> list[int]:
        return sorted({r.wrk.connections for r in self.runs})


@dataclass
class Report:
    started_utc: str
    machine: dict[str, str]
    versions: dict[str, str]
    settings: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    footprints: list[Footprint] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    fidelity: list[Fidelity] = field(default_factory=list)
    crosschecks: list[CrossCheck] = field(default_factory=list)
    soaks: list[Soak] = field(default_factory=list)
    tool_rounds: list[ToolRound] = field(default_factory=list)
    slow_streams: list[SlowStreams] = field(default_factory=list)
    long_histories: list[LongHistory] = field(default_factory=list)
    dashboards: list[Dashboards] = field(default_factory=list)
    total_s: float = 0.0
    interrupted: str = ""

    def find(self, system: str, mode: str, connections: int) -> WrkResult | None:
        for m in self.measurements:
            if (m.system, m.mode, m.wrk.connections) == (system, mode, connections):
                return m.wrk
        return None


def _table(columns: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table; the first two columns are text, the rest right-aligned numbers."""
    marks = [":--" if i < 2 else "--:" for i in range(len(columns))]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join(marks) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


THROUGHPUT_COLUMNS = [
    "System",
    "Mode",
    "Conns",
    "Req/s",
    "p50 ms",
    "p99 ms",
    "Added p50 ms",
    "Added p99 ms",
    "Errors (non-2xx / socket)",
]
MEMORY_COLUMNS = [
    "System",
    "Mode",
    "Processes",
    "Startup s",
    "RSS idle MiB",
    "RSS after load MiB",
    "PSS after load MiB",
]
SOAK_COLUMNS = [
    "System",
    "Mode",
    "Requests",
    "Conns",
    "Req/s",
    "RSS start MiB",
    "RSS at N/2 MiB",
    "RSS at N MiB",
    "Growth N/2 to N KiB",
    "Errors",
]
CROSSCHECK_COLUMNS = [
    "System",
    "Mode",
    "Requests",
    "wrk p50 ms",
    "Python p50 ms",
    "wrk p99 ms",
    "Python p99 ms",
]


def _ms(value: float, sign: str = "") -> str:
    """Milliseconds with three decimals below 1 ms, where proxies differ by tens of microseconds."""
    return f"{value:{sign}.3f}" if abs(value) < 1 else f"{value:{sign}.2f}"


def _signed_ms(value: float) -> str:
    return _ms(value, "+")


def _mib(memory: Memory) -> str:
    return f"{memory.rss_mib:.1f}"


def duration_text(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def header_lines(report: Report) -> list[str]:
    m, v, s = report.machine, report.versions, report.settings
    machine = f"{m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, Python {m['python']}"
    load = f"load average {m['loadavg']} before the run"
    if m.get("loadavg_after"):
        load += f", {m['loadavg_after']} after it"
    software = ", ".join(f"{name} {version}" for name, version in v.items())
    request, reply = s["request_bytes"], s["upstream_bytes"]
    method = []
    if report.measurements:
        method.append(
            f"wrk, {s['threads']} thread(s), {s['duration_s']} s per run after a {s['warmup_s']} s warm-up"
            f" at {max(s['connections'])} connections."
        )
    if report.soaks:
        method.append(
            f"Soak: exactly {s['soak_requests']:,} requests per mode over"
            f" {s['soak_connections']} keep-alive connections from a Python client."
        )
    if report.measurements or report.soaks or report.slow_streams:
        method.append(
            f"Request {request['non-stream']} B ({request['stream']} B streaming) with two tools and a tool-call"
            f" round trip in the history; canned upstream reply {reply['non-stream']} B of JSON"
            f" or {reply['stream']} B of SSE in 10 chunks."
        )
    others = []
    if "litellm" in s["systems"]:
        others.append(f"LiteLLM has `model_name: {s['alias']}`")
    if "nginx-proxy" in s["systems"]:
        others.append("nginx passes it on")
    if any(system.startswith("stack-floor") for system in s["systems"]):
        others.append("the stack floor sends it to the upstream with no router between")
    method.append(
        f"Every request names the alias `{s['alias']}`: the router has `[models.{s['alias']}] targets ="
        f' ["{s["alias_target"]}"]` in its config file and its default request log on (INFO, one line per'
        f" request, to its log file)" + "".join(f"; {other}" for other in others) + "."
    )
    if report.tool_rounds or report.slow_streams or report.long_histories or report.dashboards:
        method.append(
            f"Scenarios through {s['scenario_system']}: wrk {s['scenario_duration_s']} s per figure after a"
            f" {s['scenario_warmup_s']} s warm-up."
        )
    method.append(f"Started {report.started_utc}.")
    return [
        f"**Machine:** {machine}; {load}",
        "",
        f"**Software:** {software}",
        "",
        f"**Method:** {' '.join(method)}",
    ]


SUMMARY_COLUMNS = [
    "System",
    "Mode",
    "Added p50 ms",
    "Added p99 ms",
    "Req/s, 1 conn",
    "Req/s, max conns",
    "RSS after load MiB",
]


def summary_table(report: Report) -> list[str]:
    """Per system and mode: the added latency at one connection, throughput, memory."""
    rows: list[list[str]] = []
    for mode in report.settings["modes"]:
        base = report.find("direct", mode, 1)
        for system in report.settings["systems"]:
            runs = sorted(
                (m.wrk for m in report.measurements if (m.system, m.mode) == (system, mode)),
                key=lambda w: w.connections,
            )
            if not runs:
                continue
            low, high = runs[0], runs[-1]
            added = [NOT_APPLICABLE, NOT_APPLICABLE]
            if system != "direct" and base is not None and low.connections == 1:
                added = [_signed_ms(low.p50_ms - base.p50_ms), _signed_ms(low.p99_ms - base.p99_ms)]
            footprint = next((f for f in report.footprints if (f.system, f.mode) == (system, mode)), None)
            rss = NOT_APPLICABLE if footprint is None else _mib(footprint.after)
            high_rps = f"{high.rps:,.0f} ({high.connections})"
            rows.append([system, mode, *added, f"{low.rps:,.0f}", high_rps, rss])
    return _table(SUMMARY_COLUMNS, rows)


def _probe_text(p: Probes) -> str:
    return f"p50 {_ms(p.p50_ms)} ms, p99 {_ms(p.p99_ms)} ms" if p.count else "not probed"


def scenario_summary(report: Report) -> list[str]:
    """One line per scenario with its headline figures."""
    lines = []
    for t in report.tool_rounds:
        model, tool = t.agent_calls
        lines.append(
            f"- **One agent tool round** ({t.system}): adds {_signed_ms(t.round_ms)} ms at p50, of which the"
            f" router's own work {_signed_ms(t.router_round_ms)} ms; each agent request made {model:.2f} model"
            f" and {tool:.2f} tool calls upstream; {t.agent_loaded.rps:,.0f} agent req/s at"
            f" {t.agent_loaded.connections} connections."
        )
    for s in report.slow_streams:
        lines.append(
            f"- **{s.streams} slow streams open at once** ({s.system}): all open {s.open_s:.2f} s after the first"
            f" was sent, {s.upstream_connections} upstream connections; {s.rss_per_stream_mib * 1024:+.0f} KiB RSS"
            f" ({s.pss_per_stream_mib * 1024:+.0f} KiB PSS) per stream; `/health` {_probe_text(s.health_open)}"
            f" meanwhile ({_probe_text(s.health_idle)} idle, nginx's {_probe_text(s.health_floor)});"
            f" {s.completed} / {s.streams} completed."
        )
    for h in report.long_histories:
        routed, direct = report.find(h.system, h.mode, h.router.connections), report.find("direct", h.mode, 1)
        small = ""
        if routed is not None and direct is not None:
            small = f" (the 1.3 KB request: {_signed_ms(routed.p50_ms - direct.p50_ms)} ms)"
        lines.append(
            f"- **A {h.request_bytes / 1000:.0f} KB history**, {h.mode} ({h.system}): adds"
            f" {_signed_ms(h.router.p50_ms - h.direct.p50_ms)} ms at p50{small};"
            f" {h.router_loaded.rps:,.0f} req/s at {h.router_loaded.connections} connections."
        )
    for d in report.dashboards:
        lines.append(f"- **{d.dashboards} open dashboards** ({d.system}): {_dashboard_effect(d)}")
    return lines


def _relative(value: float, base: float) -> str:
    return f"{(value / base - 1) * 100:+.1f}%" if base else NOT_APPLICABLE


def _dashboard_effect(d: Dashboards) -> str:
    """What the open dashboards, and then the admin key itself, change against the admin key with none open."""
    counts = d.connection_counts()
    low, high = counts[0], counts[-1]
    at = f"{low} connection" + ("s" if low > 1 else "")
    effects = {}
    for case in (OPEN, OFF):
        at_low, base_low = d.find(case, low), d.find(NONE_OPEN, low)
        at_high, base_high = d.find(case, high), d.find(NONE_OPEN, high)
        if at_low is None or base_low is None or at_high is None or base_high is None:
            continue
        effects[case] = (
            f"p50 {_signed_ms(at_low.wrk.p50_ms - base_low.wrk.p50_ms)} ms, p99"
            f" {_signed_ms(at_low.wrk.p99_ms - base_low.wrk.p99_ms)} ms at {at}, req/s"
            f" {_relative(at_high.wrk.rps, base_high.wrk.rps)} at {high}"
        )
    text = f"{effects.get(OPEN, 'not measured')}, against none open (with the admin key)"
    rates = [r.updates_per_s for r in d.runs if r.case == OPEN and r.updates_per_s is not None]
    if rates:
        low_rate, high_rate = f"{min(rates):.2f}", f"{max(rates):.2f}"
        text += f"; each got {low_rate}" + (f" to {high_rate}" if high_rate != low_rate else "") + " updates a second"
    if OFF in effects:
        text += f". Without an admin key: {effects[OFF]}"
    return text + "."


def throughput_table(report: Report) -> list[str]:
    rows: list[list[str]] = []
    for m in report.measurements:
        w = m.wrk
        added = [NOT_APPLICABLE, NOT_APPLICABLE]
        base = report.find("direct", m.mode, w.connections)
        if m.system != "direct" and w.connections == 1 and base is not None:
            added = [_signed_ms(w.p50_ms - base.p50_ms), _signed_ms(w.p99_ms - base.p99_ms)]
        rows.append(
            [
                m.system,
                m.mode,
                str(w.connections),
                f"{w.rps:,.0f}",
                _ms(w.p50_ms),
                _ms(w.p99_ms),
                *added,
                f"{w.non_2xx} / {w.socket_errors}",
            ]
        )
    return _table(THROUGHPUT_COLUMNS, rows)


def memory_table(report: Report) -> list[str]:
    rows = [
        [
            f.system,
            f.mode,
            str(f.after.processes),
            NOT_APPLICABLE if f.startup_s is None else f"{f.startup_s:.1f}",
            _mib(f.idle),
            _mib(f.after),
            f"{f.after.pss_mib:.1f}",
        ]
        for f in report.footprints
    ]
    return _table(MEMORY_COLUMNS, rows)


def soak_table(report: Report) -> list[str]:
    rows = []
    for s in report.soaks:
        growth = s.end.rss_kib - s.half.rss_kib
        rows.append(
            [
                s.system,
                s.mode,
                f"{s.requests:,}",
                str(s.connections),
                f"{s.requests / s.seconds:,.0f}" if s.seconds else NOT_APPLICABLE,
                _mib(s.start),
                _mib(s.half),
                _mib(s.end),
                f"{growth:+,}",
                str(s.errors),
            ]
        )
    return _table(SOAK_COLUMNS, rows)


def crosscheck_table(report: Report) -> list[str]:
    rows = []
    for c in report.crosschecks:
        w = report.find(c.system, c.mode, 1)
        rows.append(
            [
                c.system,
                c.mode,
                str(c.requests),
                _ms(w.p50_ms) if w else NOT_APPLICABLE,
                _ms(c.p50_ms),
                _ms(w.p99_ms) if w else NOT_APPLICABLE,
                _ms(c.p99_ms),
            ]
        )
    return _table(CROSSCHECK_COLUMNS, rows)


TOOL_ROUND_COLUMNS = [
    "System",
    "Request",
    "Conns",
    "Req/s",
    "p50 ms",
    "p99 ms",
    "Errors (non-2xx / socket)",
    "Upstream calls per request (model / tool)",
]
SLOW_STREAM_COLUMNS = [
    "System",
    "Streams",
    "Opened in s",
    "Upstream conns open",
    "RSS idle MiB",
    "RSS open MiB",
    "PSS idle MiB",
    "PSS open MiB",
    "RSS per stream KiB",
    "PSS per stream KiB",
    "RSS after MiB",
    "Completed",
]
HEALTH_COLUMNS = ["System", "While", "Probes", "p50 ms", "p99 ms", "Max ms", "Failed"]
HISTORY_COLUMNS = [
    "System",
    "Mode",
    "Request KB",
    "Direct p50 ms",
    "p50 ms",
    "Added p50 ms",
    "Added p99 ms",
    "Added p50 ms, small request",
    "Req/s at max conns",
    "Errors (non-2xx / socket)",
]


def _wrk_row(system: str, request: str, w: WrkResult, calls: tuple[float, float] | None = None) -> list[str]:
    errors = f"{w.non_2xx} / {w.socket_errors}"
    counted = NOT_APPLICABLE if calls is None else f"{calls[0]:.2f} / {calls[1]:.2f}"
    return [system, request, str(w.connections), f"{w.rps:,.0f}", _ms(w.p50_ms), _ms(w.p99_ms), errors, counted]


def tool_round_lines(report: Report) -> list[str]:
    rows: list[list[str]] = []
    notes: list[str] = []
    for t in report.tool_rounds:
        rows += [
            _wrk_row("direct", "model call", t.direct_model),
            _wrk_row("direct", "tool call", t.direct_tool),
            _wrk_row(t.system, "plain request to the alias", t.plain, t.plain_calls),
            _wrk_row(t.system, "agent request, 1 tool round", t.agent, t.agent_calls),
            _wrk_row(t.system, "agent request, 1 tool round", t.agent_loaded),
        ]
        notes.append(
            f"- {t.system}: a tool round adds **{_signed_ms(t.round_ms)} ms** at p50 (agent minus plain request);"
            f" the router's own cost per round is **{_signed_ms(t.router_round_ms)} ms** (that, minus the model's"
            f" and the tool's own time, called directly). Agent minus two plain requests:"
            f" {_signed_ms(t.minus_two_plain_ms)} ms."
        )
        notes += [f"- {t.system}: {problem}" for problem in t.problems]
    return [*_table(TOOL_ROUND_COLUMNS, rows), "", *notes]


def _probe_row(system: str, while_: str, p: Probes) -> list[str]:
    if not p.count:
        return [system, while_, "0", NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, str(p.failed)]
    return [system, while_, str(p.count), _ms(p.p50_ms), _ms(p.p99_ms), _ms(p.max_ms), str(p.failed)]


def slow_stream_lines(report: Report) -> list[str]:
    rows = []
    probes = []
    problems = []
    for s in report.slow_streams:
        rows.append(
            [
                s.system,
                str(s.streams),
                f"{s.open_s:.2f}",
                str(s.upstream_connections),
                _mib(s.idle),
                _mib(s.opened),
                f"{s.idle.pss_mib:.1f}",
                f"{s.opened.pss_mib:.1f}",
                f"{s.rss_per_stream_mib * 1024:.0f}",
                f"{s.pss_per_stream_mib * 1024:.0f}",
                _mib(s.after),
                f"{s.completed} / {s.streams}",
            ]
        )
        probes += [
            _probe_row("direct", "idle (nginx: the probe's own cost)", s.health_floor),
            _probe_row(s.system, "idle", s.health_idle),
            _probe_row(s.system, f"{s.streams} streams open", s.health_open),
        ]
        problems += [f"- {s.system}: {problem}" for problem in s.problems]
    lines = [*_table(SLOW_STREAM_COLUMNS, rows), "", *_table(HEALTH_COLUMNS, probes)]
    return [*lines, "", *problems] if problems else lines


def history_lines(report: Report) -> list[str]:
    rows = []
    for h in report.long_histories:
        small = NOT_APPLICABLE
        routed, direct = report.find(h.system, h.mode, h.router.connections), report.find("direct", h.mode, 1)
        if routed is not None and direct is not None:
            small = _signed_ms(routed.p50_ms - direct.p50_ms)
        w = h.router_loaded
        runs = (h.direct, h.router, w)
        errors = f"{sum(r.non_2xx for r in runs)} / {sum(r.socket_errors for r in runs)}"
        rows.append(
            [
                h.system,
                h.mode,
                f"{h.request_bytes / 1000:.0f}",
                _ms(h.direct.p50_ms),
                _ms(h.router.p50_ms),
                _signed_ms(h.router.p50_ms - h.direct.p50_ms),
                _signed_ms(h.router.p99_ms - h.direct.p99_ms),
                small,
                f"{w.rps:,.0f} ({w.connections})",
                errors,
            ]
        )
    return _table(HISTORY_COLUMNS, rows)


DASHBOARD_COLUMNS = [
    "System",
    "Dashboard",
    "Conns",
    "Req/s",
    "p50 ms",
    "p99 ms",
    "p50 vs none open ms",
    "p99 vs none open ms",
    "Req/s vs none open",
    "Per open dashboard per s",
    "Errors (non-2xx / socket)",
]


def dashboard_lines(report: Report) -> list[str]:
    rows = []
    notes = []
    labels = {OFF: "off (no admin key)", NONE_OPEN: "on, none open"}
    for d in report.dashboards:
        for connections in d.connection_counts():
            base = d.find(NONE_OPEN, connections)
            for case in (NONE_OPEN, OPEN, OFF):
                run = d.find(case, connections)
                if run is None:
                    continue
                w = run.wrk
                versus = [NOT_APPLICABLE] * 3
                if base is not None and case != NONE_OPEN:
                    versus = [
                        _signed_ms(w.p50_ms - base.wrk.p50_ms),
                        _signed_ms(w.p99_ms - base.wrk.p99_ms),
                        _relative(w.rps, base.wrk.rps),
                    ]
                received = NOT_APPLICABLE
                if run.updates_per_s is not None and run.kib_per_s is not None:
                    received = f"{run.updates_per_s:.2f} updates, {run.kib_per_s:,.1f} KiB"
                rows.append(
                    [
                        d.system,
                        labels.get(case, f"on, {d.dashboards} open"),
                        str(connections),
                        f"{w.rps:,.0f}",
                        _ms(w.p50_ms),
                        _ms(w.p99_ms),
                        *versus,
                        received,
                        f"{w.non_2xx} / {w.socket_errors}",
                    ]
                )
        if len(d.per_worker) == 1:
            where = f"All {d.dashboards} dashboards were on one worker"
        else:
            where = f"The dashboards were spread over the workers as {' + '.join(map(str, d.per_worker))}"
            if d.on_single_worker is not None:
                where += f"; the worker serving the one-connection run held {d.on_single_worker} of them"
        wait = f"the longest wait between two updates was {d.longest_update_wait_s:.2f} s"
        notes.append(f"- {d.system}: {_dashboard_effect(d)} {where}; {wait}.")
        notes += [f"- {d.system}: {problem}" for problem in d.problems]
    return [*_table(DASHBOARD_COLUMNS, rows), "", *notes]


def scenario_lines(report: Report) -> list[str]:
    lines = ["## Scenarios", ""]
    if report.tool_rounds:
        lines += ["### One agent tool round", "", *tool_round_lines(report), ""]
        lines += [
            "The agent's model is the alias and its one tool an HTTP tool on the canned upstream, which always"
            " answers with a call of that tool; with `max_rounds = 1` each agent request makes two model calls"
            " and one tool call and finishes with `finish_reason` `length`. The plain request is the agent's"
            " first round sent by a client itself (the same question and tool, to the alias), so agent minus"
            " plain is what one more round costs a request.",
            "",
        ]
    if report.slow_streams:
        lines += ["### Concurrent slow streams", "", *slow_stream_lines(report), ""]
        hold = report.slow_streams[0].hold_s
        lines += [
            f"The upstream sends each stream's first event, holds it open {hold:g} s, then sends the rest. Memory"
            " is read once every stream's first event has arrived through the router, against idle after a"
            " few warm-up streams; per stream is the difference divided by the number of streams. The"
            " connections to the upstream are counted at the same moment (the router's idle keep-alive ones"
            " included). Then, while every stream is still held, `GET /health` is sent one probe at a time, back"
            " to back, each on a new connection (its latency includes the connect), as before the streams were"
            " opened for the idle figures and to the canned upstream's nginx for the probe's own cost. Every"
            " stream is then read to its end and checked.",
            "",
        ]
    if report.long_histories:
        lines += ["### A long history", "", *history_lines(report), ""]
        lines += [
            "A conversation of about 200 KB (searches, documents read, answers, some non-ASCII text) with four"
            " tools, at one connection against the direct upstream with the same request; the small-request"
            " column is the main table's figure for the ~1.3 KB request, when this run measured it.",
            "",
        ]
    if report.dashboards:
        lines += ["### Open dashboards", "", *dashboard_lines(report), ""]
        interval = report.dashboards[0].update_interval_s
        lines += [
            "The main non-stream request, through a router with an admin key (`LLM_ROUTER_ADMIN_KEY`), which turns"
            " the dashboard on: every request is recorded for it. First with no dashboard open; then with"
            " dashboards open, each one `GET /admin/stream` read throughout, to which each worker sends the same"
            f" update every `[dashboard] update_interval` ({interval:g} s): the requests recorded since the last"
            " and an `overview` event, counted as updates. Then through a router started without an admin key"
            " (the dashboard off: `/admin/stream` answers 403, no request is recorded). Every difference is from"
            " the admin key with no dashboard open.",
            "",
        ]
    return lines


def _collapse_chunks(differences: list[str]) -> list[str]:
    """Group a stream's per-chunk differences: ``$[3].usage missing`` x9 becomes one entry."""
    groups: dict[str, list[str]] = {}
    for difference in differences:
        groups.setdefault(re.sub(r"^\$\[\d+\]", "$[*]", difference), []).append(difference)
    return [found[0] if len(found) == 1 else f"{key} (in {len(found)} chunks)" for key, found in groups.items()]


def fidelity_lines(report: Report) -> list[str]:
    out = []
    for f in report.fidelity:
        if not f.differences:
            out.append(f"- {f.system}, {f.mode}: identical to the upstream's JSON")
            continue
        grouped = _collapse_chunks(f.differences) if f.mode == "stream" else f.differences
        shown = "; ".join(grouped[:8]) + ("; ..." if len(grouped) > 8 else "")
        out.append(f"- {f.system}, {f.mode}: {len(f.differences)} difference(s): {shown}")
    return out


def failure_lines(report: Report) -> list[str]:
    out = []
    for f in report.failures:
        out.append(f"### {f.system}, {f.mode}: {f.stage}")
        out.append("")
        out += [f"- {p}" for p in f.problems]
        for title, text in (("Request", f.request), ("Response", f.response)):
            if text:
                out += ["", f"{title}:", "", "```", text.rstrip(), "```"]
        out.append("")
    return out


def render(report: Report) -> str:
    lines = ["# llm-router benchmark", "", *header_lines(report), ""]
    if report.interrupted:
        lines += [f"**Incomplete run:** {report.interrupted}", ""]
    scenarios = scenario_summary(report)
    if report.measurements or scenarios:
        lines += ["## Summary", ""]
        if report.measurements:
            lines += [*summary_table(report), ""]
        lines += [*scenarios, ""] if scenarios else []
        if report.failures:
            lines += [f"{len(report.failures)} check(s) failed: see Failures.", ""]
    if report.measurements:
        lines += ["## Throughput and latency", "", *throughput_table(report), ""]
        lines += [
            "Added latency is the difference from *direct* at one connection, same mode. "
            "Streaming latency is the time to the end of the stream.",
            "",
        ]
    if report.footprints:
        lines += ["## Memory", "", *memory_table(report), ""]
        lines += [
            "RSS is summed over the server's processes (master and workers); PSS shares pages between them.",
            "",
        ]
    if report.tool_rounds or report.slow_streams or report.long_histories or report.dashboards:
        lines += scenario_lines(report)
    if report.soaks:
        lines += ["## Memory soak", "", *soak_table(report), ""]
        errors = [f"- first error, {s.system} {s.mode}: {s.first_error}" for s in report.soaks if s.first_error]
        lines += [*errors, ""] if errors else []
    if report.crosschecks:
        title = "## Cross-check (Python keep-alive client, 1 connection)"
        lines += [title, "", *crosscheck_table(report), ""]
    if report.fidelity:
        lines += ["## Response fidelity (vs. the upstream body)", "", *fidelity_lines(report), ""]
    if report.failures:
        lines += ["## Failures", "", *failure_lines(report)]
    lines += [f"Total run time: {duration_text(report.total_s)}.", ""]
    return "\n".join(lines)
