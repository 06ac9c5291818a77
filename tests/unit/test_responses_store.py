"""The in-memory response store: bounded in entries and bytes, entries expire, stored copies are isolated."""

from __future__ import annotations

from app.responses.items import FunctionCall, FunctionCallInput, InputMessage, OutputMessage, OutputText
from app.responses.store import InMemoryResponseStore, StoredResponse, decode_stored, encode_stored
from app.responses.wire import ResponseObject


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stored(response_id: str, text: str = "Hello.") -> StoredResponse:
    response = ResponseObject(
        id=response_id,
        created_at=1,
        status="completed",
        model="mock/text",
        output=[
            OutputMessage(id="msg_1", status="completed", content=[OutputText(text=text)]),
            FunctionCall(id="fc_1", call_id="call_1", name="f", arguments="{}", status="completed"),
        ],
    )
    return StoredResponse(response=response, conversation=[InputMessage(role="user", content="Hi")])


async def test_put_get_delete() -> None:
    store = InMemoryResponseStore()

    await store.put(stored("resp_1"))

    assert await store.get("resp_1") == stored("resp_1")
    assert await store.get("resp_2") is None
    assert await store.delete("resp_1") is True
    assert await store.delete("resp_1") is False
    assert await store.get("resp_1") is None
    assert store.size_bytes == 0


async def test_history_is_the_conversation_then_the_output_as_input() -> None:
    history = stored("resp_1").history()

    assert history[0] == InputMessage(role="user", content="Hi")
    assert history[1] == InputMessage(
        role="assistant", content=[OutputText(text="Hello.")], id="msg_1", status="completed"
    )
    assert history[2] == FunctionCallInput(call_id="call_1", name="f", arguments="{}", id="fc_1", status="completed")


async def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    store = InMemoryResponseStore(ttl=60, clock=clock)
    await store.put(stored("resp_1"))
    clock.now += 30
    await store.put(stored("resp_2"))

    clock.now += 31
    assert await store.get("resp_1") is None
    assert await store.get("resp_2") is not None
    clock.now += 30
    assert await store.get("resp_2") is None
    assert len(store) == 0


async def test_the_oldest_entries_go_when_full() -> None:
    store = InMemoryResponseStore(max_entries=2)
    for number in range(3):
        await store.put(stored(f"resp_{number}"))

    assert await store.get("resp_0") is None
    assert await store.get("resp_1") is not None
    assert await store.get("resp_2") is not None


async def test_the_byte_budget_holds() -> None:
    one = len(encode_stored(stored("resp_0", "x" * 1000)))
    store = InMemoryResponseStore(max_bytes=one * 2 + 10)
    for number in range(3):
        await store.put(stored(f"resp_{number}", "x" * 1000))

    assert len(store) == 2
    assert store.size_bytes <= store.max_bytes
    assert await store.get("resp_0") is None


async def test_an_entry_larger_than_the_store_is_not_kept() -> None:
    store = InMemoryResponseStore(max_bytes=100)

    await store.put(stored("resp_1", "x" * 1000))

    assert await store.get("resp_1") is None
    assert store.size_bytes == 0


async def test_a_stored_copy_cannot_be_changed_through_the_caller_objects() -> None:
    store = InMemoryResponseStore()
    original = stored("resp_1")
    await store.put(original)

    original.conversation.clear()
    fetched = await store.get("resp_1")
    assert fetched is not None
    fetched.response.output.clear()

    again = await store.get("resp_1")
    assert again == stored("resp_1")


def test_the_codec_round_trips() -> None:
    assert decode_stored(encode_stored(stored("resp_1"))) == stored("resp_1")
