"""Configuration: environment fallbacks, request body and headers, tracing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pydantic
import pytest
import respx
from langchain_core.load import dumpd, load
from pydantic import SecretStr

from langchain_llm_router import DEFAULT_BASE_URL, ChatLLMRouter, __version__

from llm_router_fakes import BASE_URL, chunk, completion, json_response, sse_response

if TYPE_CHECKING:
    from llm_router_fakes import FakeRouter


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_ROUTER_BASE_URL", "http://router.env/v1")
    monkeypatch.setenv("LLM_ROUTER_API_KEY", "from-env")

    model = ChatLLMRouter(model="m")

    assert model.base_url == "http://router.env/v1"
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == "from-env"


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_ROUTER_BASE_URL", raising=False)
    monkeypatch.delenv("LLM_ROUTER_API_KEY", raising=False)

    # langchain-openai's spelling, accepted at runtime for familiarity.
    model = ChatLLMRouter(model_name="m")  # type: ignore[call-arg]

    assert model.model == "m"
    assert model.base_url == DEFAULT_BASE_URL == "http://127.0.0.1:8080/v1"
    assert model.api_key is None
    assert model.max_retries == 2
    assert model.stream_usage is True


def test_unknown_parameters_are_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="temprature"):
        ChatLLMRouter(model="m", temprature=0.2)  # type: ignore[call-arg]


@pytest.mark.parametrize("key", ["temperature", "messages", "stream", "stop_sequences"])
def test_model_kwargs_may_not_shadow_parameters(key: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=key):
        ChatLLMRouter(model="m", model_kwargs={key: 1})


def test_request_body_has_set_parameters_only(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion()))
    model = fake_router.model(
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=64,
        seed=7,
        frequency_penalty=0.1,
        presence_penalty=0.3,
        stop=["END"],
        reasoning_effort="low",
        model_kwargs={"user": "u-1", "metadata": {"team": "a"}},
    )

    model.invoke("Hi")

    assert fake_router.last_body == {
        "model": "test/model",
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_completion_tokens": 64,
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.3,
        "stop": ["END"],
        "reasoning_effort": "low",
        "user": "u-1",
        "metadata": {"team": "a"},
    }


def test_per_call_arguments_override_configuration(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion(model="other/model")))
    model = fake_router.model(temperature=0.2, stop=["END"], max_tokens=10)

    message = model.invoke("Hi", stop=["STOP"], temperature=1.0, model="other/model")

    body = fake_router.last_body
    assert body["stop"] == ["STOP"]
    assert body["temperature"] == 1.0
    assert body["model"] == "other/model"
    assert body["max_tokens"] == 10
    assert message.response_metadata["model_name"] == "other/model"


def test_empty_stop_list_is_not_sent(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion()))

    fake_router.model(stop=[]).invoke("Hi")

    assert "stop" not in fake_router.last_body


def test_headers_and_url(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion()))
    model = fake_router.model(
        base_url=BASE_URL + "/",
        api_key=SecretStr("sk-test"),
        default_headers={"X-Team": "search"},
        timeout=12.5,
    )

    model.invoke("Hi")

    request = fake_router.requests[-1]
    assert str(request.url) == "http://router.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["x-team"] == "search"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == f"langchain-llm-router/{__version__}"
    assert request.extensions["timeout"] == httpx.Timeout(12.5).as_dict()


def test_no_authorization_header_without_a_key(
    fake_router: FakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLM_ROUTER_API_KEY", raising=False)
    fake_router.queue(json_response(completion()))

    fake_router.model().invoke("Hi")

    assert "authorization" not in fake_router.requests[-1].headers


def test_text_is_sent_as_utf8_not_escapes(fake_router: FakeRouter) -> None:
    fake_router.queue(json_response(completion()))

    fake_router.model().invoke("你好")

    assert "你好".encode() in fake_router.requests[-1].content


def test_tracing_parameters() -> None:
    model = ChatLLMRouter(
        model="mock/text", temperature=0.3, max_tokens=50, stop="END", base_url=BASE_URL
    )

    assert model._llm_type == "llm-router-chat"
    assert model._get_ls_params() == {
        "ls_provider": "llm-router",
        "ls_model_name": "mock/text",
        "ls_model_type": "chat",
        "ls_temperature": 0.3,
        "ls_max_tokens": 50,
        "ls_stop": ["END"],
    }
    assert model._get_ls_params(model="other", stop=["X"])["ls_model_name"] == "other"
    assert model._get_ls_params(stop=["X"])["ls_stop"] == ["X"]
    assert model._identifying_params == {
        "model": "mock/text",
        "base_url": BASE_URL,
        "temperature": 0.3,
        "max_tokens": 50,
    }


@pytest.mark.filterwarnings(
    # load() is marked beta in langchain-core; the warning is theirs.
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)
def test_serialization_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_ROUTER_API_KEY", "sk-env")
    model = ChatLLMRouter(
        model="mock/tool",
        base_url=BASE_URL,
        api_key=SecretStr("sk-env"),
        temperature=0.1,
    )

    serialized = dumpd(model)
    restored = load(
        serialized,
        valid_namespaces=["langchain_llm_router"],
        allowed_objects=[ChatLLMRouter],
        secrets_from_env=True,
    )

    # The key is serialized as a reference to its environment variable only.
    assert "sk-env" not in str(serialized)
    assert isinstance(restored, ChatLLMRouter)
    assert restored.asdict() == model.asdict()
    assert restored.api_key is not None
    assert restored.api_key.get_secret_value() == "sk-env"


@respx.mock(base_url=BASE_URL)
def test_default_sync_client(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("/chat/completions").mock(
        return_value=json_response(completion("from default client"))
    )

    message = ChatLLMRouter(model="m", base_url=BASE_URL).invoke("Hi")

    assert message.content == "from default client"
    assert route.call_count == 1


@respx.mock(base_url=BASE_URL)
async def test_default_async_client(respx_mock: respx.MockRouter) -> None:
    respx_mock.post("/chat/completions").mock(
        side_effect=[
            json_response(completion("async")),
            sse_response(
                chunk({"content": "streamed"}), chunk({}, finish_reason="stop")
            ),
        ]
    )
    model = ChatLLMRouter(model="m", base_url=BASE_URL)

    message = await model.ainvoke("Hi")
    chunks = [c async for c in model.astream("Hi")]

    assert message.content == "async"
    assert "".join(str(c.content) for c in chunks) == "streamed"
