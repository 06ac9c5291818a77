"""The scenarios: one agent tool round, many concurrent slow streams, a request with a 200 KB history, and
chat requests while web dashboards are open.

Each runs through one router system (``--scenario-system``), started for the scenario with the config it
needs, and checks the scenario's answer once before measuring it, as the main measurements do. wrk runs
are short (``--scenario-duration``): the figures are p50 at the lowest connection count and req/s at the
highest. Results go into the report's ``tool_rounds``, ``slow_streams``, ``long_histories`` and
``dashboards``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, NoReturn

import httpclient
import nginx
import payloads
import report as rp
import scenario_payloads as sp
from dashboards import DashboardsFailedError, OpenDashboards
from procs import ServerFailedError, established_to, memory_of
from setup_env import log
from systems import ADMIN_KEY, BEARER_TOKEN, HOST, Mode
from wrkrun import WrkError, run_wrk

if TYPE_CHECKING:
    import argparse
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from dashboards import Reading
    from procs import Memory
    from systems import Launcher, Target
    from wrkrun import WrkResult

    Check = Callable[[int, dict[str, str], bytes], list[str]]
    """Problems with a response (status, headers, body); none when it is right."""

__all__ = ["SCENARIOS", "ScenarioRunner"]

SCENARIOS = ("tool-round", "slow-streams", "long-history", "dashboards")

_WARM_STREAMS = 4
"""Streams opened (and checked) before memory is read at idle: enough to load every code path once, too few
to leave the allocator holding the memory of many streams."""

_IDLE_PROBES = 500
"""Health probes at idle, the baseline for the probes while the streams are open."""
_PROBE_MARGIN_S = 0.5
"""Probing stops this long before the upstream could end the first stream, so every probe finds all open."""
_CALLS_SETTLE_S = 2.0
"""How long to wait for the upstream's count of calls to stop moving after a wrk run (requests in flight)."""
_DASHBOARDS_OPEN_S = 15.0
"""How long the dashboards may take to open, each with its first events."""
_DASHBOARD_UPDATE_S = 10.0
"""How long past its update interval a dashboard may wait for its next update, under load on a busy machine."""


class ScenarioFailedError(Exception):
    """A scenario's answer failed its check, or a server did not start; already recorded in the report."""


class ScenarioRunner:
    """Runs the scenarios through ``system`` and records them in ``result``."""

    def __init__(
        self, args: argparse.Namespace, launcher: Launcher, workdir: Path, result: rp.Report, system: str
    ) -> None:
        self.args = args
        self.launcher = launcher
        self.workdir = workdir
        self.result = result
        self.system = system
        self.low = min(args.connections)
        self.high = max(args.connections)

    def run(self, scenario: str) -> None:
        log(f"== scenario {scenario}, {self.system}")
        runs: dict[str, Callable[[], None]] = {
            "tool-round": self.tool_round,
            "slow-streams": self.slow_streams,
            "long-history": self.long_histories,
            "dashboards": self.dashboards,
        }
        with contextlib.suppress(ScenarioFailedError):  # recorded in the report's failures
            runs[scenario]()

    # -- helpers -------------------------------------------------------------------

    def _fail(self, scenario: str, stage: str, problems: list[str], request: str = "", response: str = "") -> NoReturn:
        log(f"   FAILED ({scenario}, {stage}): {problems[0] if problems else ''}")
        self.result.failures.append(rp.Failure(self.system, scenario, stage, problems, request, response))
        raise ScenarioFailedError(problems[0] if problems else stage)

    def _start(
        self, scenario: str, prefix: str, label: str, *, agent: bool = False, admin_key: str | None = None
    ) -> Target:
        try:
            return self.launcher.start_router(self.system, prefix, label, agent=agent, admin_key=admin_key)
        except ServerFailedError as exc:
            self._fail(scenario, "start", [str(exc)])

    def _body(self, name: str, content: bytes) -> Path:
        path = self.workdir / f"request-{name}.json"
        path.write_bytes(content)
        return path

    def _check(self, scenario: str, stage: str, target: Target, body: bytes, check: Check) -> None:
        """Send ``body`` once to ``target``; a response ``check`` finds fault with fails the scenario."""
        raw = httpclient.build_post(HOST, target.port, target.path, body, {"Authorization": f"Bearer {BEARER_TOKEN}"})
        try:
            response = asyncio.run(httpclient.fetch(HOST, target.port, raw, request_timeout=30))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, httpclient.ProtocolError) as exc:
            self._fail(scenario, stage, [f"{exc.__class__.__name__}: {exc}"], httpclient.describe_request(raw))
        problems = check(response.status, response.headers, response.body)
        if problems:
            self._fail(
                scenario, stage, problems, httpclient.describe_request(raw), httpclient.describe_response(response)
            )

    def _wrk(self, scenario: str, target: Target, body_file: Path, connections: int, duration: int) -> WrkResult:
        try:
            return run_wrk(
                target.url,
                body_file,
                connections=connections,
                threads=self.args.threads,
                duration_s=duration,
                bearer_token=BEARER_TOKEN,
            )
        except WrkError as exc:
            self._fail(scenario, "load", [str(exc)])

    def _measure(self, scenario: str, what: str, target: Target, body_file: Path, connections: int) -> WrkResult:
        w = self._wrk(scenario, target, body_file, connections, self.args.scenario_duration)
        log(
            f"   {what:<28} {connections:>3} conns: {w.rps:>9,.0f} req/s  p50 {w.p50_ms:.2f} ms  "
            f"p99 {w.p99_ms:.2f} ms  errors {w.non_2xx}/{w.socket_errors}"
        )
        return w

    def _warm(self, scenario: str, target: Target, body_file: Path) -> None:
        if self.args.scenario_warmup:
            self._wrk(scenario, target, body_file, self.high, self.args.scenario_warmup)

    # -- one agent tool round ---------------------------------------------------------

    def tool_round(self) -> None:
        """An agent request (model call, tool call, model call) beside the plain request of its first round."""
        scenario = "tool round"
        agent_body, plain_body = sp.agent_request(), sp.plain_request()
        agent_file, plain_file = self._body("agent", agent_body), self._body("agent-plain", plain_body)
        tool_file = self._body("tool", sp.tool_arguments())
        model = self.launcher.direct(nginx.AGENT_PREFIX + nginx.CHAT_PATH)
        tool = self.launcher.direct(nginx.TOOL_PATH)

        def tool_check(status: int, headers: dict[str, str], body: bytes) -> list[str]:
            return [] if status == 200 and body == sp.tool_answer() else [f"status {status}, body {body[:200]!r}"]

        def plain_check(status: int, headers: dict[str, str], body: bytes) -> list[str]:
            return payloads.validate_completion(status, headers, body, sp.AGENT_TOOL)

        self._check(scenario, "tool, direct", tool, sp.tool_arguments(), tool_check)
        target = self._start(scenario, nginx.AGENT_PREFIX, "agent", agent=True)
        try:
            self._check(scenario, "plain request", target, plain_body, plain_check)
            self._check(scenario, "before load", target, agent_body, sp.validate_agent_answer)
            self._warm(scenario, target, agent_file)
            direct_model = self._measure(scenario, "direct, model call", model, plain_file, self.low)
            direct_tool = self._measure(scenario, "direct, tool call", tool, tool_file, self.low)
            plain, plain_calls = self._counted(scenario, "plain request", target, plain_file)
            agent, agent_calls = self._counted(scenario, "agent request", target, agent_file)
            loaded = self._measure(scenario, "agent request", target, agent_file, self.high)
            self._check(scenario, "after load", target, agent_body, sp.validate_agent_answer)
        finally:
            self.launcher.stop(target)
        # Each request the router answered made exactly these calls upstream; wrk's last request, cut off
        # when the run ends, may add a call or two to hundreds.
        expected = {"plain": (plain_calls, (1, 0)), "agent": (agent_calls, (2, 1))}
        problems = [
            f"{request} requests made {made:.2f} {kind} calls each upstream, expected {wanted}"
            for request, (calls, wanted_calls) in expected.items()
            for kind, made, wanted in zip(("model", "tool"), calls, wanted_calls, strict=True)
            if abs(made - wanted) > 0.05
        ]
        result = rp.ToolRound(
            self.system, agent, loaded, plain, direct_model, direct_tool, plain_calls, agent_calls, problems
        )
        self.result.tool_rounds.append(result)
        log(
            f"   upstream calls per request (model, tool): plain {plain_calls[0]:.2f}, {plain_calls[1]:.2f};"
            f" agent {agent_calls[0]:.2f}, {agent_calls[1]:.2f}"
        )
        if problems:
            self._fail(scenario, "upstream calls", problems)

    def _counted(
        self, scenario: str, what: str, target: Target, body_file: Path
    ) -> tuple[WrkResult, tuple[float, float]]:
        """``_measure`` at the lowest connection count, with the model and tool calls the upstream had per
        request it answered."""
        model_path, tool_path = nginx.AGENT_PREFIX + nginx.CHAT_PATH, nginx.TOOL_PATH
        before = nginx.upstream_calls(self.workdir)
        w = self._measure(scenario, what, target, body_file, self.low)
        after = _settled_calls(self.workdir)
        per_request = (
            (after.get(path, 0) - before.get(path, 0)) / max(1, w.requests) for path in (model_path, tool_path)
        )
        model_calls, tool_calls = per_request
        return w, (model_calls, tool_calls)

    # -- a long history -------------------------------------------------------------------

    def long_histories(self) -> None:
        for mode in self.args.modes:
            try:
                self.long_history(Mode(mode))
            except ScenarioFailedError:
                continue

    def long_history(self, mode: Mode) -> None:
        """The same ~200 KB request to the direct upstream and through the router."""
        scenario = f"long history, {mode.name}"
        body = sp.history_request(stream=mode.stream)
        body_file = self._body(f"history-{mode.name}", body)
        check = payloads.validate_stream if mode.stream else payloads.validate_completion
        direct = self.launcher.direct(mode.upstream_prefix + nginx.CHAT_PATH)
        target = self._start(scenario, mode.upstream_prefix, f"history-{mode.name}")
        try:
            self._check(scenario, "before load", target, body, check)
            self._warm(scenario, target, body_file)
            direct_w = self._measure(scenario, "direct", direct, body_file, self.low)
            router_w = self._measure(scenario, "router", target, body_file, self.low)
            loaded = self._measure(scenario, "router", target, body_file, self.high)
            self._check(scenario, "after load", target, body, check)
        finally:
            self.launcher.stop(target)
        self.result.long_histories.append(rp.LongHistory(self.system, mode.name, len(body), direct_w, router_w, loaded))

    # -- open dashboards -----------------------------------------------------------------

    def dashboards(self) -> None:
        """The main non-stream request with the admin key set: with no dashboard open, then with
        ``--dashboards`` open and read throughout; then through a router without an admin key."""
        scenario = "dashboards"
        body = payloads.request_bytes(stream=False)
        body_file = self._body("dashboards", body)
        counts = sorted({self.low, self.high})
        result = rp.Dashboards(self.system, self.args.dashboards)
        target = self._start(scenario, nginx.JSON_PREFIX, "dashboards", admin_key=ADMIN_KEY)
        try:
            self._check(scenario, "before load", target, body, payloads.validate_completion)
            self._warm(scenario, target, body_file)
            for connections in counts:
                w = self._measure(scenario, "admin key, none open", target, body_file, connections)
                result.runs.append(rp.DashboardRun(rp.NONE_OPEN, w))
            self._with_dashboards_open(scenario, target, body_file, counts, result)
            self._check(scenario, "after load", target, body, payloads.validate_completion)
        finally:
            self.launcher.stop(target)
        self.result.dashboards.append(result)
        if result.problems:
            self._fail(scenario, "dashboards", result.problems)
        self._without_dashboard(scenario, result, body, body_file, counts)

    def _with_dashboards_open(
        self, scenario: str, target: Target, body_file: Path, counts: list[int], result: rp.Dashboards
    ) -> None:
        """The runs with the dashboards open; each must stay open and get its updates from first to last."""
        viewers = OpenDashboards(HOST, target.port, ADMIN_KEY, self.args.dashboards)
        try:
            try:
                viewers.open(_DASHBOARDS_OPEN_S)
                result.update_interval_s = viewers.dashboards[0].update_interval
                # The first update after the opening events: the worker's update loop is running.
                viewers.wait_for_updates(result.update_interval_s + _DASHBOARD_UPDATE_S)
            except DashboardsFailedError as exc:
                self._fail(scenario, "dashboards open", [str(exc)])
            result.per_worker = sorted(viewers.per_instance().values(), reverse=True)
            first, began = viewers.reading(), time.perf_counter()
            windows: list[tuple[WrkResult, float, float]] = []
            for connections in counts:
                start = time.perf_counter()
                w = self._measure(scenario, f"admin key, {self.args.dashboards} open", target, body_file, connections)
                windows.append((w, start, time.perf_counter()))
                if connections == 1:
                    result.on_single_worker = viewers.per_instance()[self._latest_instance(scenario, target)]
            last, span = viewers.reading(), time.perf_counter() - began
            try:
                # Still open and updated after the load; and so every update of the last run is in.
                viewers.wait_for_updates(result.update_interval_s + _DASHBOARD_UPDATE_S)
            except DashboardsFailedError as exc:
                result.problems.append(f"after the load: {exc}")
        finally:
            viewers.close()
        result.problems += _missed_updates(first, last, span, result.update_interval_s)
        for w, start, end in windows:
            updates = viewers.updates(start, end)
            if updates is None:
                result.runs.append(rp.DashboardRun(rp.OPEN, w))
                continue
            result.runs.append(rp.DashboardRun(rp.OPEN, w, updates.per_s, updates.kib_per_s))
            result.longest_update_wait_s = max(result.longest_update_wait_s, updates.longest_s)
        counted = [b - a for a, b in zip(first.overviews, last.overviews, strict=True)]
        log(
            f"   dashboards per worker: {', '.join(map(str, result.per_worker))}; updates per dashboard"
            f" {min(counted)} to {max(counted)} in {span:.1f} s, at most {result.longest_update_wait_s:.2f} s apart"
        )

    def _without_dashboard(
        self, scenario: str, result: rp.Dashboards, body: bytes, body_file: Path, counts: list[int]
    ) -> None:
        """The same requests through a router started without an admin key: no dashboard, no records kept."""
        target = self._start(scenario, nginx.JSON_PREFIX, "no-admin-key")
        try:
            self._check(scenario, "no admin key", target, body, payloads.validate_completion)
            self._check_dashboard_off(scenario, target)
            self._warm(scenario, target, body_file)
            for connections in counts:
                w = self._measure(scenario, "no admin key", target, body_file, connections)
                result.runs.append(rp.DashboardRun(rp.OFF, w))
        finally:
            self.launcher.stop(target)

    def _admin_get(self, scenario: str, target: Target, path: str) -> httpclient.Response:
        raw = httpclient.build_get(HOST, target.port, path, {"Authorization": f"Bearer {ADMIN_KEY}"})
        try:
            return asyncio.run(httpclient.fetch(HOST, target.port, raw, request_timeout=10))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, httpclient.ProtocolError) as exc:
            self._fail(scenario, f"GET {path}", [f"{exc.__class__.__name__}: {exc}"], httpclient.describe_request(raw))

    def _latest_instance(self, scenario: str, target: Target) -> str:
        """The worker that served the latest chat request, as the router's recent requests record it."""
        response = self._admin_get(scenario, target, "/admin/requests?limit=1")
        try:
            return str(json.loads(response.body)["data"][0]["instance"])
        except (ValueError, LookupError, TypeError):
            self._fail(
                scenario, "recent requests", ["no recent request listed"], "", httpclient.describe_response(response)
            )

    def _check_dashboard_off(self, scenario: str, target: Target) -> None:
        """Without an admin key the dashboard's stream must answer 403: the dashboard is really off."""
        response = self._admin_get(scenario, target, "/admin/stream")
        if response.status != 403:
            problem = f"GET /admin/stream answered {response.status} without an admin key, not 403"
            self._fail(scenario, "no admin key", [problem], "", httpclient.describe_response(response))

    # -- concurrent slow streams ----------------------------------------------------------

    def slow_streams(self) -> None:
        """Memory and /health while ``--streams`` streams are open through the router at once."""
        scenario = "slow streams"
        count, hold = self.args.streams, self.args.stream_hold
        upstream_port = self.launcher.upstream_port
        # The same probes of nginx's /health: what the probing itself (the client, the connect) costs.
        floor = asyncio.run(
            _probe_health(upstream_port, httpclient.build_get(HOST, upstream_port, "/health"), count=_IDLE_PROBES)
        )
        target = self._start(scenario, nginx.SLOW_PREFIX, "slow")
        body = payloads.request_bytes(stream=True)
        raw = httpclient.build_post(HOST, target.port, target.path, body, {"Authorization": f"Bearer {BEARER_TOKEN}"})
        probe = httpclient.build_get(HOST, target.port, "/health")
        held = _Held()

        async def while_open(until: float) -> None:
            held.opened = memory_of(target.root_pids)
            held.upstream_connections = established_to(upstream_port)
            held.health = await _probe_health(target.port, probe, until=until)

        try:
            # The warm-up streams are the scenario's check, too: each is read to its end and validated.
            warm = asyncio.run(_hold_streams(raw, target.port, _WARM_STREAMS, hold, _Held(), None))
            if warm.problems:
                self._fail(scenario, "before load", warm.problems, httpclient.describe_request(raw))
            # Probed before memory is read, so that what the probes leave behind is in both readings.
            health_idle = asyncio.run(_probe_health(target.port, probe, count=_IDLE_PROBES))
            idle = memory_of(target.root_pids)
            asyncio.run(_hold_streams(raw, target.port, count, hold, held, while_open))
            after = memory_of(target.root_pids)
        except TimeoutError:
            self._fail(scenario, "streams", [f"the streams did not end within {hold + _STREAMS_TIMEOUT_S:g} s"])
        finally:
            self.launcher.stop(target)
        problems = held.problems
        if held.open_s >= hold:
            problems = [
                f"opening {count} streams took {held.open_s:.1f} s, longer than --stream-hold {hold:g} s",
                *problems,
            ]
        if held.upstream_connections < count:
            problems = [
                f"{held.upstream_connections} connections to the upstream were open, fewer than the {count} streams",
                *problems,
            ]
        assert held.opened is not None
        assert held.health is not None
        result = rp.SlowStreams(
            self.system,
            count,
            hold,
            held.open_s,
            idle,
            held.opened,
            after,
            held.completed,
            problems[:5],
            held.upstream_connections,
            floor,
            health_idle,
            held.health,
        )
        self.result.slow_streams.append(result)
        log(
            f"   {count} streams open after {held.open_s:.2f} s, {held.upstream_connections} upstream connections:"
            f" RSS {idle.rss_mib:.1f} -> {held.opened.rss_mib:.1f} MiB, {result.rss_per_stream_mib * 1024:.0f} KiB"
            f" per stream; /health p50 {health_idle.p50_ms:.2f} -> {held.health.p50_ms:.2f} ms,"
            f" p99 {health_idle.p99_ms:.2f} -> {held.health.p99_ms:.2f} ms ({held.health.count} probes);"
            f" {held.completed} completed"
        )
        if problems:
            self._fail(scenario, "streams", problems[:5], httpclient.describe_request(raw))


_STREAMS_TIMEOUT_S = 60.0
"""How long after the hold the streams may take to end before the scenario gives up."""


def _missed_updates(first: Reading, last: Reading, seconds: float, interval: float) -> list[str]:
    """Dashboards that got fewer than half the updates ``seconds`` should bring, or no request records."""
    wanted = max(1, int(seconds / interval / 2))
    problems = []
    for number, (a, b) in enumerate(zip(first.overviews, last.overviews, strict=True), 1):
        if b - a < wanted:
            problems.append(f"dashboard {number} got {b - a} updates in {seconds:.1f} s, expected at least {wanted}")
    for number, (a, b) in enumerate(zip(first.requests_events, last.requests_events, strict=True), 1):
        if b == a:
            problems.append(f"dashboard {number} got no request records in {seconds:.1f} s of load")
    return problems


def _settled_calls(workdir: Path) -> dict[str, int]:
    """The upstream's calls once requests still in flight after a wrk run have reached it."""
    calls = nginx.upstream_calls(workdir)
    deadline = time.monotonic() + _CALLS_SETTLE_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
        latest = nginx.upstream_calls(workdir)
        if latest == calls:
            break
        calls = latest
    return calls


class _Held:
    """What a batch of streams held open at once came to."""

    def __init__(self) -> None:
        self.open_s = 0.0
        self.completed = 0
        self.problems: list[str] = []
        self.opened: Memory | None = None
        self.upstream_connections = 0
        self.health: rp.Probes | None = None


async def _hold_streams(
    raw: bytes, port: int, count: int, hold: float, held: _Held, while_open: Callable[[float], Awaitable[None]] | None
) -> _Held:
    """Open ``count`` streams at once; once each has sent its first event, await ``while_open`` with the
    ``perf_counter`` time until which every stream is surely still held; then read them all to the end and
    check them."""
    streams: list[httpclient.OpenStream] = []
    try:
        async with asyncio.timeout(hold + _STREAMS_TIMEOUT_S):
            start = time.perf_counter()
            outcomes = await asyncio.gather(
                *(httpclient.open_stream(HOST, port, raw) for _ in range(count)), return_exceptions=True
            )
            held.open_s = time.perf_counter() - start
            streams = [o for o in outcomes if isinstance(o, httpclient.OpenStream)]
            held.problems += [f"{o.__class__.__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
            if while_open is not None:
                # The upstream holds each stream from when it got the request, after ``start``.
                await while_open(start + hold - _PROBE_MARGIN_S)
            responses = await asyncio.gather(*(s.finish() for s in streams), return_exceptions=True)
    finally:
        for stream in streams:
            await stream.close()
    for response in responses:
        if isinstance(response, BaseException):
            held.problems.append(f"{response.__class__.__name__}: {response}")
            continue
        problems = payloads.validate_stream(response.status, response.headers, response.body)
        if problems:
            held.problems.append("; ".join(problems))
        else:
            held.completed += 1
    return held


async def _probe_health(port: int, raw: bytes, *, count: int | None = None, until: float | None = None) -> rp.Probes:
    """``GET /health`` on a fresh connection each time, one after another, ``count`` times or until ``until``
    (a ``perf_counter`` time); the latency includes the connect.

    One probe at a time never queues behind another, and back to back they keep the client's CPU warm: with
    pauses between them, waking up again costs the client itself more than the server takes to answer.
    """
    latencies: list[float] = []
    failed = 0
    while (count is None or len(latencies) + failed < count) and (until is None or time.perf_counter() < until):
        start = time.perf_counter()
        try:
            response = await httpclient.fetch(HOST, port, raw, request_timeout=5)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, httpclient.ProtocolError):
            failed += 1
        else:
            if response.status == 200:
                latencies.append(time.perf_counter() - start)
            else:
                failed += 1
    return rp.Probes.of(latencies, failed)
