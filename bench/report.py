"""Results of one run, and their rendering as markdown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procs import Memory
    from wrkrun import WrkResult

__all__ = [
    "CrossCheck",
    "Failure",
    "Fidelity",
    "Footprint",
    "Measurement",
    "Report",
    "Soak",
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


def _duration(seconds: float) -> str:
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
    method.append(
        f"Request {request['non-stream']} B ({request['stream']} B streaming) with two tools and a tool-call"
        f" round trip in the history; canned upstream reply {reply['non-stream']} B of JSON"
        f" or {reply['stream']} B of SSE in 10 chunks. Started {report.started_utc}."
    )
    return [
        f"**Machine:** {machine}; {load}",
        "",
        f"**Software:** {software}",
        "",
        f"**Method:** {' '.join(method)}",
    ]


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
    lines += [f"Total run time: {_duration(report.total_s)}.", ""]
    return "\n".join(lines)
