#!/usr/bin/env python3
"""Benchmark llm-router against a canned upstream, a plain nginx proxy, the stack floor and LiteLLM's proxy.

Everything runs on 127.0.0.1. The script installs what it needs (nginx and wrk
from Debian, LiteLLM into bench/.venv-litellm, the router into .venv), starts
every server itself, stops all of them on exit, error, Ctrl-C or SIGTERM, and
prints a markdown report that it also writes to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpclient
import payloads
import report as rp
import setup_env
from procs import ServerFailedError, memory_of
from scenarios import SCENARIOS, ScenarioRunner
from setup_env import BENCH_DIR, log
from systems import (
    ALL_SYSTEMS,
    BEARER_TOKEN,
    FLOOR_SYSTEMS,
    HOST,
    MODES,
    QUICK_SYSTEMS,
    ROUTER_SYSTEMS,
    Launcher,
    Mode,
    Target,
)
from wrkrun import WrkError, run_wrk, wrk_version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

    from procs import Memory
    from wrkrun import WrkResult

__all__ = ["main"]


class DeadlineExceededError(Exception):
    """The run took longer than --max-time."""


class Bench:
    """The measurements of one run, accumulated into a report."""

    def __init__(self, args: argparse.Namespace, launcher: Launcher, workdir: Path, result: rp.Report) -> None:
        self.args = args
        self.launcher = launcher
        self.result = result
        self.body_files: dict[str, Path] = {}
        for mode in MODES:
            self.body_files[mode] = workdir / f"request-{mode}.json"
            self.body_files[mode].write_bytes(payloads.request_bytes(stream=mode == "stream"))

    def raw_request(self, target: Target, mode: Mode) -> bytes:
        body = self.body_files[mode.name].read_bytes()
        auth = {"Authorization": f"Bearer {BEARER_TOKEN}"}
        return httpclient.build_post(HOST, target.port, target.path, body, auth)

    def fail(
        self, system: str, mode: Mode, stage: str, problems: list[str], request: str = "", response: str = ""
    ) -> None:
        log(f"   FAILED ({stage}): {problems[0] if problems else ''}")
        self.result.failures.append(rp.Failure(system, mode.name, stage, problems, request, response))

    def validate(self, system: str, mode: Mode, target: Target, stage: str) -> bool:
        """Check one full response; on failure, record the exchange and return False."""
        raw = self.raw_request(target, mode)
        check = payloads.validate_stream if mode.stream else payloads.validate_completion
        try:
            response = asyncio.run(httpclient.fetch(HOST, target.port, raw, request_timeout=30))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, httpclient.ProtocolError) as exc:
            self.fail(system, mode, stage, [f"{exc.__class__.__name__}: {exc}"], httpclient.describe_request(raw))
            return False
        problems = check(response.status, response.headers, response.body)
        if problems:
            request, text = httpclient.describe_request(raw), httpclient.describe_response(response)
            self.fail(system, mode, stage, problems, request, text)
            return False
        if stage == "before load" and system != "direct":
            differences = payloads.fidelity(mode.stream, response.body)
            self.result.fidelity.append(rp.Fidelity(system, mode.name, differences))
        return True

    def wrk(self, target: Target, mode: Mode, connections: int, duration: int) -> WrkResult:
        return run_wrk(
            target.url,
            self.body_files[mode.name],
            connections=connections,
            threads=self.args.threads,
            duration_s=duration,
            bearer_token=BEARER_TOKEN,
        )

    def measure(self, system: str, mode: Mode) -> None:
        """Validate, warm up, then one wrk run per connection count; memory before and after."""
        log(f"== {system}, {mode.name}")
        try:
            target = self.launcher.start(system, mode)
        except ServerFailedError as exc:
            self.fail(system, mode, "start", [str(exc)])
            return
        try:
            if not self.validate(system, mode, target, "before load"):
                return
            idle = memory_of(target.root_pids)
            if self.args.warmup:
                self.wrk(target, mode, max(self.args.connections), self.args.warmup)
            for connections in self.args.connections:
                w = self.wrk(target, mode, connections, self.args.duration)
                log(
                    f"   {connections:>3} conns: {w.rps:>9,.0f} req/s  p50 {w.p50_ms:.2f} ms  "
                    f"p99 {w.p99_ms:.2f} ms  errors {w.non_2xx}/{w.socket_errors}"
                )
                self.result.measurements.append(rp.Measurement(system, mode.name, w))
            after = memory_of(target.root_pids)
            self.result.footprints.append(rp.Footprint(system, mode.name, target.startup_s, idle, after))
            self.validate(system, mode, target, "after load")
            if self.args.crosscheck:
                self.crosscheck(system, mode, target)
        except WrkError as exc:
            self.fail(system, mode, "load", [str(exc)])
        finally:
            self.launcher.stop(target)

    def crosscheck(self, system: str, mode: Mode, target: Target) -> None:
        """Time sequential requests with the Python client, to compare with wrk's 1-connection figures."""
        raw = self.raw_request(target, mode)
        count = self.args.crosscheck
        outcome = asyncio.run(httpclient.load(HOST, target.port, raw, count, 1, record_latency=True))
        latencies = sorted(outcome.latencies)
        p50, p99 = (httpclient.percentile(latencies, p) * 1000 for p in (50, 99))
        self.result.crosschecks.append(rp.CrossCheck(system, mode.name, len(latencies), p50, p99))

    def soak(self, system: str, mode: Mode) -> None:
        """Send exactly N requests; read the memory after a warm-up, after N/2 and after N."""
        total, connections = self.args.soak, self.args.soak_connections
        log(f"== soak: {system}, {mode.name}, {total:,} requests over {connections} connections")
        try:
            target = self.launcher.start(system, mode)
        except ServerFailedError as exc:
            self.fail(system, mode, "soak start", [str(exc)])
            return
        try:
            if not self.validate(system, mode, target, "soak"):
                return
            raw = self.raw_request(target, mode)
            warmup = min(2000, max(100, total // 20))
            asyncio.run(httpclient.load(HOST, target.port, raw, warmup, connections))
            start = memory_of(target.root_pids)
            half: list[Memory] = []

            def on_progress(done: int) -> None:
                if done == total // 2:
                    half.append(memory_of(target.root_pids))
                if done % 20_000 == 0:
                    log(f"   {done:,} / {total:,}")

            async def soak_load() -> httpclient.LoadResult:
                async with asyncio.timeout(self.args.soak_timeout):
                    return await httpclient.load(HOST, target.port, raw, total, connections, on_progress=on_progress)

            outcome = asyncio.run(soak_load())
            end = memory_of(target.root_pids)
            errors = outcome.non_2xx + outcome.socket_errors
            middle = half[0] if half else start
            soak = rp.Soak(
                system,
                mode.name,
                total,
                connections,
                outcome.seconds,
                errors,
                outcome.first_error,
                start,
                middle,
                end,
            )
            self.result.soaks.append(soak)
            rss = f"{start.rss_mib:.1f} -> {middle.rss_mib:.1f} -> {end.rss_mib:.1f} MiB"
            log(f"   RSS {rss}, {errors} errors")
        except TimeoutError:
            self.fail(system, mode, "soak", [f"did not finish within {self.args.soak_timeout} s"])
        finally:
            self.launcher.stop(target)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        values = []
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("expected positive integers separated by commas")
    return values


def _choices(allowed: tuple[str, ...], *, none: bool = False) -> Callable[[str], list[str]]:
    """Parse a comma-separated subset of ``allowed``; with ``none``, the word "none" is the empty set."""

    def parse(text: str) -> list[str]:
        values = {v.strip() for v in text.split(",") if v.strip()}
        if none and values == {"none"}:
            return []
        if not values or not values <= set(allowed):
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}" + (", or none" if none else ""))
        return [v for v in allowed if v in values]

    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.sh",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--duration", type=int, default=10, help="seconds per measured wrk run")
    add("--warmup", type=int, default=3, help="seconds of warm-up per system and mode (0: none)")
    add("--connections", type=_int_list, default="1,32", help="connection counts, comma-separated")
    add("--threads", type=int, default=1, help="wrk threads (the load generator shares the CPUs)")
    add("--systems", type=_choices(ALL_SYSTEMS), default=",".join(ALL_SYSTEMS), help="comma-separated")
    add("--modes", type=_choices(MODES), default=",".join(MODES), help="comma-separated")
    add(
        "--quick",
        action="store_true",
        help=f"smoke test: 2 s runs of {', '.join(QUICK_SYSTEMS)}, and 1 s runs of each scenario",
    )
    add("--skip-litellm", action="store_true", help="do not install or run LiteLLM")
    add("--skip-router", action="store_true", help="do not install or run llm-router (nor the stack floor)")
    scenarios = _choices(SCENARIOS, none=True)
    add("--scenarios", type=scenarios, default=",".join(SCENARIOS), help="comma-separated, or none")
    add("--scenarios-only", action="store_true", help="run the scenarios without the main measurements")
    add(
        "--scenario-system",
        choices=ROUTER_SYSTEMS,
        help="the router the scenarios go through (default: llm-router-2w if the run has it, else llm-router-1w)",
    )
    add("--scenario-duration", type=int, default=3, help="seconds per measured wrk run in the scenarios")
    add("--scenario-warmup", type=int, default=1, help="seconds of warm-up per scenario (0: none)")
    add("--streams", type=int, default=100, help="streams held open at once in the slow-streams scenario")
    add("--stream-hold", type=float, default=5.0, help="seconds the upstream holds each slow stream open")
    add("--dashboards", type=int, default=10, help="dashboards held open in the dashboards scenario")
    add("--soak", type=int, default=0, metavar="N", help="also send exactly N requests per mode, for memory")
    add("--soak-system", choices=ALL_SYSTEMS, default="llm-router-1w", help="the system the soak goes through")
    add("--soak-connections", type=int, default=16, help="keep-alive connections for the soak")
    add("--soak-timeout", type=int, default=900, help="seconds the soak of one mode may take")
    add("--soak-only", action="store_true", help="run the soak without the wrk measurements")
    add("--crosscheck", type=int, default=0, metavar="N", help="also time N requests with a Python client")
    add("--litellm-spec", default=setup_env.LITELLM_SPEC, help="pip requirement for LiteLLM")
    add("--no-setup", action="store_true", help="install nothing; fail if something is missing")
    add("--results-dir", type=Path, default=BENCH_DIR / "results", help="where reports are written")
    add("--max-time", type=int, default=3600, help="hard limit for the whole run, in seconds")
    add("--keep-workdir", action="store_true", help="keep the generated configs and server logs")
    args = parser.parse_args(argv)

    if args.quick:
        args.duration, args.warmup = 2, 1
        args.scenario_duration, args.scenario_warmup = 1, 1
        if args.systems == list(ALL_SYSTEMS):
            args.systems = list(QUICK_SYSTEMS)
    skipped = {"litellm"} if args.skip_litellm else set()
    if args.skip_router:
        skipped |= {*ROUTER_SYSTEMS, *FLOOR_SYSTEMS}  # the floor runs the router's code too
    # direct is the baseline every added latency is measured from.
    args.systems = ["direct"] + [s for s in args.systems if s != "direct" and s not in skipped]
    routers = [s for s in ROUTER_SYSTEMS if s in args.systems]
    if args.scenario_system is None:
        args.scenario_system = "llm-router-2w" if "llm-router-2w" in routers or not routers else routers[0]
    if args.skip_router or args.soak_only:
        args.scenarios = []
    elif not routers and not args.scenarios_only:
        args.scenarios = []  # the scenarios measure the router; a run without one has none
    if args.scenarios_only:
        if not args.scenarios:
            parser.error("--scenarios-only needs at least one scenario and the router")
        args.systems = ["direct", args.scenario_system]
    if args.soak_only:
        if not args.soak:
            parser.error("--soak-only needs --soak N")
        args.systems = [args.soak_system]
    elif args.soak and args.soak_system not in args.systems:
        parser.error(f"--soak goes through {args.soak_system}, which this run does not include")
    if min(args.duration, args.threads, args.soak_connections, args.max_time, args.scenario_duration) < 1:
        parser.error("--duration, --scenario-duration, --threads, --soak-connections and --max-time must be positive")
    if args.warmup < 0 or args.scenario_warmup < 0 or args.soak < 0 or args.crosscheck < 0:
        parser.error("--warmup, --scenario-warmup, --soak and --crosscheck cannot be negative")
    if args.streams < 1 or args.stream_hold <= 0 or args.dashboards < 1:
        parser.error("--streams, --stream-hold and --dashboards must be positive")
    return args


def estimate_seconds(args: argparse.Namespace) -> float:
    """A rough duration of the run after setup, printed before it starts."""
    startup = {"direct": 0.0, "nginx-proxy": 0.5, "litellm": 10.0}
    startup |= {system: 2.0 if system.startswith("llm-router-1w") else 3.0 for system in ROUTER_SYSTEMS}
    startup |= dict.fromkeys(FLOOR_SYSTEMS, 1.0)
    per_run = float(args.duration) + 0.5
    per_mode = 0.0
    if not args.soak_only and not args.scenarios_only:
        for system in args.systems:
            per_mode += startup[system] + args.warmup + len(args.connections) * per_run + args.crosscheck / 500
    # The soak's pace is the router's: a few hundred requests a second with one worker.
    total = len(args.modes) * (per_mode + float(args.soak) / 400)
    router_start = startup[args.scenario_system]
    scenario_run = args.scenario_duration + 0.5
    if "tool-round" in args.scenarios:
        total += router_start + args.scenario_warmup + 5 * scenario_run
    if "long-history" in args.scenarios:
        total += len(args.modes) * (router_start + args.scenario_warmup + 3 * scenario_run)
    if "slow-streams" in args.scenarios:
        total += router_start + 2 * args.stream_hold + 2
    if "dashboards" in args.scenarios:
        # Two routers (with and without the admin key), six figures, and the dashboards' first updates.
        total += 2 * (router_start + args.scenario_warmup) + 6 * scenario_run + 3
    return total


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise DeadlineExceededError after ``seconds``; turn SIGTERM and SIGHUP into SystemExit.

    SIGINT is set to raise KeyboardInterrupt even when the shell started this
    script with SIGINT ignored (as it does for background jobs).
    """

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise DeadlineExceededError(f"the run exceeded --max-time {seconds} s")

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {
        signal.SIGALRM: signal.signal(signal.SIGALRM, on_alarm),
        signal.SIGTERM: signal.signal(signal.SIGTERM, on_term),
        signal.SIGHUP: signal.signal(signal.SIGHUP, on_term),
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
    }
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def collect_versions(router_exe: Path | None, litellm_exe: Path | None) -> dict[str, str]:
    versions = {"nginx": setup_env.nginx_version(), "wrk": wrk_version()}
    if router_exe is not None:
        versions.update(setup_env.router_server_versions())
    if litellm_exe is not None:
        python = litellm_exe.parent / "python"
        versions["litellm"] = setup_env.package_version(python, "litellm")
        versions["uvicorn (LiteLLM's)"] = setup_env.package_version(python, "uvicorn")
    return versions


def write_results(result: rp.Report, text: str, results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = result.started_utc.replace(":", "").replace("-", "")
    markdown = results_dir / f"{stamp}.md"
    markdown.write_text(text)
    (results_dir / f"{stamp}.json").write_text(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
    shutil.copyfile(markdown, results_dir / "latest.md")
    return markdown


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    scenarios = f"scenarios: {', '.join(args.scenarios)} through {args.scenario_system}" if args.scenarios else ""
    log(
        f"Systems: {', '.join(args.systems)}; modes: {', '.join(args.modes)}; {scenarios or 'no scenarios'}; "
        f"about {rp.duration_text(estimate_seconds(args))} after setup"
    )
    workdir = Path(tempfile.mkdtemp(prefix="llm-router-bench-"))
    # nginx workers drop root privileges and must still read the canned responses.
    workdir.chmod(0o755)
    result = rp.Report(
        started_utc=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        machine=setup_env.machine_summary(),
        versions={},
        settings={
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "systems": args.systems,
            "modes": args.modes,
            "soak_requests": args.soak,
            "soak_connections": args.soak_connections,
            "alias": payloads.MODEL_ALIAS,
            "alias_target": payloads.TARGET_MODEL,
            "scenarios": args.scenarios,
            "scenario_system": args.scenario_system,
            "scenario_duration_s": args.scenario_duration,
            "scenario_warmup_s": args.scenario_warmup,
            "streams": args.streams,
            "stream_hold_s": args.stream_hold,
            "dashboards": args.dashboards,
            "request_bytes": {m: len(payloads.request_bytes(stream=m == "stream")) for m in MODES},
            "upstream_bytes": {
                "non-stream": len(payloads.canned_completion()),
                "stream": len(payloads.canned_stream()),
            },
        },
    )
    launcher: Launcher | None = None
    exit_code = 0
    try:
        with deadline(args.max_time):
            router_exe = litellm_exe = None
            if not args.no_setup:
                setup_env.ensure_debian_packages()
            if any(s in ROUTER_SYSTEMS or s in FLOOR_SYSTEMS for s in args.systems):
                router_exe = setup_env.router_executable() if args.no_setup else setup_env.ensure_router()
            if "litellm" in args.systems:
                if args.no_setup:
                    litellm_exe = setup_env.litellm_executable()
                else:
                    litellm_exe = setup_env.ensure_litellm(args.litellm_spec)
            result.versions = collect_versions(router_exe, litellm_exe)
            slow_streams = "slow-streams" in args.scenarios
            if slow_streams:
                setup_env.ensure_echo_module(install=not args.no_setup)
            launcher = Launcher(workdir, router_exe, litellm_exe, args.stream_hold if slow_streams else None)
            bench = Bench(args, launcher, workdir, result)
            launcher.start_upstream()
            for mode_name in args.modes if not (args.soak_only or args.scenarios_only) else ():
                for system in args.systems:
                    bench.measure(system, Mode(mode_name))
            runner = ScenarioRunner(args, launcher, workdir, result, args.scenario_system)
            for scenario in args.scenarios:
                runner.run(scenario)
            for mode_name in args.modes if args.soak else ():
                bench.soak(args.soak_system, Mode(mode_name))
    except KeyboardInterrupt:
        result.interrupted = "interrupted (Ctrl-C)"
        exit_code = 130
    except DeadlineExceededError as exc:
        result.interrupted = str(exc)
        exit_code = 124
    except SystemExit as exc:
        if not isinstance(exc.code, int) or exc.code < 128:
            raise
        result.interrupted = f"terminated by signal {exc.code - 128}"
        exit_code = exc.code
    finally:
        if launcher is not None:
            launcher.stop_all()
        result.total_s = time.monotonic() - began
        result.machine["loadavg_after"] = setup_env.load_average()
        if args.keep_workdir or result.failures:
            log(f"Configs and server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    text = rp.render(result)
    print(text, flush=True)
    log(f"Report written to {write_results(result, text, args.results_dir)}")
    return exit_code or (1 if result.failures else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
