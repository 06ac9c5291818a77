"""A stream that stalls after it began ends with an error event once the upstream is quiet for too long."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from providers.errors import UpstreamTimeout
from providers.openrouter import OpenRouterSettings
from providers.transport import UpstreamHTTP

from .support import DEEPSEEK_TABLE, OPENROUTER_CHAT, OPENROUTER_TABLE, USER_HI, assert_stream_error, chunk, sse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import respx

QUIET = {"openrouter": {**OPENROUTER_TABLE, "stream_idle_timeout": 0.3}, "deepseek": DEEPSEEK_TABLE}
REQUEST = {"model": "openrouter/some/model", "messages": USER_HI, "stream": True}


class _Body(httpx.AsyncByteStream):
    """A streamed answer: `frames`, each after `pause` seconds, then silence unless `ends`."""

    def __init__(self, frames: list[bytes], pause: float, *, ends: bool) -> None:
        self.frames, self.pause, self.ends = frames, pause, ends

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self.frames:
            yield frame
            await asyncio.sleep(self.pause)
        if not self.ends:
            await asyncio.Event().wait()


def answering(body: _Body) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)


async def test_a_stream_that_goes_quiet_ends_with_an_error_event(make_client: Any, upstream: respx.MockRouter) -> None:
    first = sse(chunk({"role": "assistant", "content": "Hel"}), done=False)
    upstream.post(OPENROUTER_CHAT).mock(return_value=answering(_Body([first], 0, ends=False)))
    async with make_client(providers=QUIET) as client:
        response = await asyncio.wait_for(client.post("/v1/chat/completions", json=REQUEST), 10)

    assert response.status_code == 200
    error = assert_stream_error(response.text)
    assert error["code"] == "stream_idle_timeout"
    assert "stream_idle_timeout" in error["message"]


async def test_keep_alive_comments_keep_a_slow_stream_going(make_client: Any, upstream: respx.MockRouter) -> None:
    frames = [
        sse(chunk({"role": "assistant", "content": "Hel"}), done=False),
        *[b": keep-alive\n\n"] * 5,
        sse(chunk({"content": "lo."}), chunk({}, finish_reason="stop")),
    ]
    upstream.post(OPENROUTER_CHAT).mock(return_value=answering(_Body(frames, 0.1, ends=True)))
    async with make_client(providers=QUIET) as client:
        response = await client.post("/v1/chat/completions", json=REQUEST)

    assert response.status_code == 200
    assert response.text.rstrip().endswith("data: [DONE]")


# ------------------------------------------------------------------------------- the watch, on its own


def upstream_http(idle: float) -> UpstreamHTTP:
    settings = OpenRouterSettings(api_key="sk-or-test", stream_idle_timeout=idle)
    return UpstreamHTTP(
        "openrouter",
        httpx.AsyncHTTPTransport(),
        settings,
        headers={},
        error_from_response=lambda *_: None,  # type: ignore[arg-type]
    )


async def chunks(pauses: list[float]) -> AsyncIterator[bytes]:
    for pause in pauses:
        await asyncio.sleep(pause)
        yield b"data: {}\n\n"


async def test_a_slow_reader_is_not_a_quiet_upstream() -> None:
    # The upstream sends at once each time it is asked; the reader takes twice the idle timeout per chunk.
    read = []
    async for piece in upstream_http(0.05)._lively(chunks([0, 0, 0])):
        read.append(piece)
        await asyncio.sleep(0.1)

    assert len(read) == 3


async def test_a_quiet_upstream_ends_the_stream_however_busy_it_was_before() -> None:
    read: list[bytes] = []

    async def read_all() -> None:
        async for piece in upstream_http(0.1)._lively(chunks([0.02] * 10 + [5])):
            read.append(piece)

    with pytest.raises(UpstreamTimeout) as raised:
        await read_all()

    assert len(read) == 10
    assert raised.value.code == "stream_idle_timeout"


async def test_a_cancelled_reader_is_cancelled_not_timed_out() -> None:
    async def read() -> None:
        async for _ in upstream_http(0.05)._lively(chunks([5])):
            pass

    task = asyncio.create_task(read())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_stream_read_on_by_another_task_times_out_in_that_task() -> None:
    stream = upstream_http(0.05)._lively(chunks([0, 5]))

    async def read_one() -> bytes:
        return await anext(stream)

    first = await asyncio.create_task(read_one())  # read once by a task that then ends
    opener_still_running = asyncio.create_task(asyncio.sleep(0.3))

    with pytest.raises(UpstreamTimeout):
        await anext(stream)  # this task waits now, and is the one timed out

    assert first == b"data: {}\n\n"
    assert not opener_still_running.cancelled()
    opener_still_running.cancel()
