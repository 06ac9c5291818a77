"""The recent requests the dashboard reads: the ring, the traffic buckets and their figures, the feed that
several workers share through files, and the live updates every open dashboard shares."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from app.context import RequestContext
from app.shared.recent_files import SharedFilesFeed
from app.telemetry.recent import (
    BUCKET_SECONDS,
    BUCKETS,
    LocalFeed,
    RecentRequests,
    Traffic,
    error_message,
    summarise,
)
from app.tools.invocations import LocalInvocationLog
from app.ui.live import LiveUpdates

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from app.routing import TargetStatus


def finished(
    request_id: str = "req-1",
    path: str = "/v1/chat/completions",
    model: str | None = "mock/text",
    status: int = 200,
    **fields: Any,
) -> RequestContext:
    context = RequestContext(request_id, "POST", path, 0.0, model=model, status=status)
    for name, value in fields.items():
        setattr(context, name, value)
    return context


def test_only_the_api_and_requests_for_a_model_are_recorded() -> None:
    recent = RecentRequests(10)

    recent.add(finished("api"), 0.01)
    recent.add(finished("tools", path="/v1/tools/weather_current/invoke", model=None), 0.01)
    recent.add(finished("mcp", path="/mcp", model=None), 0.01)
    recent.add(finished("playground", path="/admin/chat/completions", model="mock/tool"), 0.01)
    recent.add(finished("probe", path="/health", model=None), 0.01)
    recent.add(finished("dashboard", path="/admin/overview", model=None), 0.01)
    recent.add(finished("page", path="/ui/app.css", model=None), 0.01)

    assert [record.id for record in recent.records] == ["api", "tools", "mcp", "playground"]


def test_a_record_says_who_asked_what_served_it_and_at_what_cost() -> None:
    recent = RecentRequests(10)

    context = finished(
        target="mock/text",
        attempts=2,
        stream=True,
        prompt_tokens=12,
        completion_tokens=30,
        tool_calls=1,
        tool_rounds=1,
    )
    recent.add(context, 0.0425, error=None)

    (record,) = recent.records
    assert (record.model, record.target, record.attempts, record.stream) == ("mock/text", "mock/text", 2, True)
    assert (record.prompt_tokens, record.completion_tokens, record.tool_calls, record.tool_rounds) == (12, 30, 1, 1)
    assert record.duration_ms == 42.5
    assert record.request_body is None
    assert record.response_body is None


def test_the_ring_keeps_the_latest_and_readers_keep_their_place() -> None:
    recent = RecentRequests(3)
    for number in range(5):
        recent.add(finished(f"r{number}"), 0.001)

    assert [record.id for record in recent.records] == ["r2", "r3", "r4"]
    assert [record.id for record in recent.newer_than(3)] == ["r3", "r4"]
    assert [record.id for record in recent.newer_than(0)] == ["r2", "r3", "r4"]  # what is left of them
    assert recent.newer_than(5) == []


def test_bodies_are_kept_only_when_asked_and_cut_at_the_bound() -> None:
    recent = RecentRequests(3, log_content=True, content_bytes=8)

    recent.add(finished(), 0.001, request_body=b'{"model": "mock/text"}', response_body=bytearray(b"0123456789"))

    (record,) = recent.records
    assert record.request_body == '{"model"'
    assert record.response_body == "01234567"


def test_an_error_answer_names_its_message() -> None:
    envelope = b'{"error": {"message": "No such model.", "type": "x", "param": null, "code": null}}'

    assert error_message(envelope) == "No such model."
    assert error_message(b"<html>bad gateway</html>") is None
    assert error_message(b'{"error": "a string"}') is None


def test_traffic_counts_requests_errors_tokens_and_latency_per_bucket() -> None:
    traffic = Traffic()
    start = 1_000_000.0
    traffic.count(start, 200, 12.0, 10, 20, 1)
    traffic.count(start + 1, 503, 900.0, 0, 0, 0)
    traffic.count(start + 2, 404, 3.0, 0, 0, 0)
    traffic.count(start + BUCKET_SECONDS, 200, 50.0, 5, 5, 0)

    figures = summarise(traffic.window(start + BUCKET_SECONDS + 1), start + BUCKET_SECONDS + 1)

    assert figures["requests"] == 4
    assert figures["server_errors"] == 1
    assert figures["client_errors"] == 1
    assert figures["error_rate"] == 0.25
    assert (figures["prompt_tokens"], figures["completion_tokens"], figures["tool_calls"]) == (15, 25, 1)
    series: Any = figures["series"]
    assert len(series["requests"]) == BUCKETS - 1  # whole buckets: the one still filling is left out
    assert series["requests"][-1] == 3
    assert series["requests"][:-1] == [0] * (BUCKETS - 2)


def test_buckets_older_than_the_window_are_forgotten() -> None:
    traffic = Traffic()
    start = 2_000_000.0
    traffic.count(start, 200, 1.0, 0, 0, 0)

    later = start + BUCKETS * BUCKET_SECONDS
    assert traffic.window(later) == {}
    traffic.count(later, 200, 1.0, 0, 0, 0)  # the same slot, a new bucket: counted afresh
    assert sum(row[0] for row in traffic.window(later).values()) == 1


def test_percentiles_come_from_the_latency_histogram() -> None:
    traffic = Traffic()
    now = 3_000_000.0
    for _ in range(90):
        traffic.count(now, 200, 7.0, 0, 0, 0)  # between 5 and 10 ms
    for _ in range(10):
        traffic.count(now, 200, 400.0, 0, 0, 0)  # between 250 and 500 ms

    figures = summarise(traffic.window(now), now)

    assert 5 <= figures["p50_ms"] <= 10  # type: ignore[operator]
    assert 250 <= figures["p95_ms"] <= 500  # type: ignore[operator]


def test_rates_cover_the_last_minute() -> None:
    traffic = Traffic()
    now = 4_000_000.0 + BUCKET_SECONDS - 0.001  # the end of a bucket: the minute is full
    for second in range(60):
        traffic.count(now - second, 200, 1.0, 100, 100, 0)

    figures = summarise(traffic.window(now), now)

    assert figures["requests_per_second"] == pytest.approx(1.0, rel=0.1)
    assert figures["tokens_per_minute"] == pytest.approx(12_000, rel=0.1)


def test_only_a_target_s_latest_failure_is_kept_and_a_reset_forgets_it() -> None:
    recent = RecentRequests(10)
    recent.target_failed("deepseek/down", "first", "upstream_error")
    recent.target_failed("deepseek/down", "second", "upstream_timeout")
    recent.target_failed("openrouter/x", "other", None)

    assert recent.target_errors.errors["deepseek/down"].message == "second"
    recent.target_errors.forget("deepseek/down")
    assert list(recent.target_errors.errors) == ["openrouter/x"]
    recent.target_errors.forget(None)
    assert recent.target_errors.errors == {}


async def test_the_local_feed_is_the_worker_s_own_records() -> None:
    recent = RecentRequests(10)
    feed = LocalFeed(recent)
    recent.add(finished("old"), 0.001)
    _, cursor = await feed.since(None)

    recent.add(finished("new"), 0.001)
    records, cursor = await feed.since(cursor)

    assert [record.id for record in records] == ["new"]
    assert (await feed.since(cursor))[0] == []
    assert [record.id for record in await feed.latest(5)] == ["new", "old"]


# ------------------------------------------------------------------------------ several workers, no Redis


def workers(folder: Path, count: int, history: int = 50) -> list[SharedFilesFeed]:
    return [
        SharedFilesFeed(folder, RecentRequests(history), history=history, share_interval=60, worker=str(number))
        for number in range(count)
    ]


async def test_workers_see_each_other_s_requests_through_their_files(tmp_path: Path) -> None:
    one, two = workers(tmp_path, 2)
    for feed in (one, two):
        await feed.start()
    try:
        one.local.add(finished("from-one", prompt_tokens=3), 0.001)
        two.local.add(finished("from-two", status=502), 0.001)
        _, cursor = await one.since(None)
        for feed in (one, two):
            feed.share()

        records, cursor = await one.since(cursor)
        assert sorted(record.id for record in records) == ["from-one", "from-two"]
        assert {record.id for record in await two.latest(10)} == {"from-one", "from-two"}
        figures = summarise(await two.traffic(), one.local.records[0].at)
        assert (figures["requests"], figures["server_errors"], figures["prompt_tokens"]) == (2, 1, 3)

        two.local.add(finished("later"), 0.001)
        two.share()
        records, _ = await one.since(cursor)
        assert [record.id for record in records] == ["later"]
    finally:
        for feed in (one, two):
            await feed.close()


async def test_a_worker_s_file_started_afresh_is_followed(tmp_path: Path) -> None:
    (writer,) = workers(tmp_path, 1, history=3)
    reader = SharedFilesFeed(tmp_path, RecentRequests(50), history=50, share_interval=60, worker="reader")
    await writer.start()
    try:
        _, cursor = await reader.since(None)
        seen: list[str] = []
        for number in range(8):
            writer.local.add(finished(f"r{number}"), 0.001)
            writer.share()  # past three lines the file starts afresh
            records, cursor = await reader.since(cursor)
            seen += [record.id for record in records]

        assert seen == [f"r{number}" for number in range(8)]
    finally:
        await writer.close()
        await reader.close()


async def test_a_target_reset_on_one_worker_hides_every_worker_s_error_from_before(tmp_path: Path) -> None:
    one, two = workers(tmp_path, 2)
    await one.start()
    await two.start()
    try:
        two.local.target_failed("deepseek/down", "refused", "upstream_connection_error")
        two.share()
        assert (await one.target_errors())["deepseek/down"].message == "refused"

        await one.forget_target("deepseek/down")

        assert await one.target_errors() == {}
        assert await two.target_errors() == {}
    finally:
        await one.close()
        await two.close()


# ------------------------------------------------------------------------------------ the live updates


class QuietBoard:
    async def snapshot(self) -> list[TargetStatus]:
        return []


class NoRedis:
    redis = None


@contextlib.asynccontextmanager
async def live_updates(recent: RecentRequests, interval: float = 3600) -> AsyncIterator[LiveUpdates]:
    shared: Any = NoRedis()
    board: Any = QuietBoard()
    live = LiveUpdates(LocalFeed(recent), board, shared, LocalInvocationLog(10), interval=interval, log_content=False)
    try:
        yield live
    finally:
        await live.close()


async def test_a_request_costs_open_dashboards_nothing_until_their_update() -> None:
    recent = RecentRequests(100)
    async with live_updates(recent) as live, contextlib.AsyncExitStack() as stack:
        viewers = [await stack.enter_async_context(live.watch()) for _ in range(10)]
        opened = [viewer.queue.qsize() for viewer in viewers]

        for number in range(50):
            recent.add(finished(f"r{number}"), 0.001)

        assert [viewer.queue.qsize() for viewer in viewers] == opened


async def test_every_open_dashboard_gets_the_same_update_made_once() -> None:
    recent = RecentRequests(100)
    async with live_updates(recent, interval=0.01) as live, live.watch() as first, live.watch() as second:
        for viewer in (first, second):
            hello = await viewer.get()
            assert hello is not None
            assert hello.startswith(b"event: hello")
            await viewer.get()  # the opening Overview
        recent.add(finished("shared"), 0.001)

        updates = []
        for viewer in (first, second):
            while True:
                update = await asyncio.wait_for(viewer.get(), 5)
                assert update is not None
                if b'"shared"' in update:
                    updates.append(update)
                    break

        assert updates[0] is updates[1]  # one encoding, handed to both


async def test_closing_ends_every_open_dashboard_s_stream() -> None:
    recent = RecentRequests(10)
    async with live_updates(recent) as live, live.watch() as viewer:
        await live.close()

        received = [await viewer.get() for _ in range(viewer.queue.qsize())]

        assert received[-1] is None
        assert live.closed
