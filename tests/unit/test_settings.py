"""Configuration: provider variables from the environment, a TOML file over them, and errors that say what to fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_origin

import pytest
from pydantic import BaseModel

from app.settings import ConfigError, Settings, load_settings, settings_variable
from providers.deepseek import DeepSeekSettings
from providers.openrouter import OpenRouterSettings

from .support import USER_HI, build_app, json_response

if TYPE_CHECKING:
    import httpx
    import respx

    from providers.base import ProviderSettings

ROOT = Path(__file__).resolve().parents[2]
COMPLETION = (
    b'{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}'
)


@pytest.fixture
def config(tmp_path: Path) -> Any:
    """Write a TOML config file and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "llm-router.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


async def ask(make_client: Any, settings: Settings, model: str) -> httpx.Response:
    async with make_client(settings=settings) as client:
        response: httpx.Response = await client.post("/v1/chat/completions", json={"model": model, "messages": USER_HI})
        return response


# ---------------------------------------------------------------------------------------------- environment


@pytest.mark.parametrize(
    ("prefix", "model", "upstream_model"),
    [
        ("OPENROUTER", "openrouter/openai/gpt-4o", "openai/gpt-4o"),
        ("DEEPSEEK", "deepseek/deepseek-chat", "deepseek-chat"),
    ],
)
async def test_provider_key_and_base_url_from_the_environment(
    make_client: Any,
    upstream: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    prefix: str,
    model: str,
    upstream_model: str,
) -> None:
    monkeypatch.setenv(f"{prefix}_API_KEY", "sk-from-env")
    monkeypatch.setenv(f"{prefix}_BASE_URL", "https://env.test/v1")
    route = upstream.post("https://env.test/v1/chat/completions").mock(return_value=json_response(COMPLETION))

    response = await ask(make_client, load_settings(), model)

    assert response.status_code == 200, response.text
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer sk-from-env"
    assert b'"model":"%s"' % upstream_model.encode() in request.content


async def test_openrouter_attribution_from_the_environment(
    make_client: Any, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENROUTER_APP_URL", "https://example.org")
    monkeypatch.setenv("OPENROUTER_APP_TITLE", "Example")
    route = upstream.post("https://openrouter.ai/api/v1/chat/completions").mock(return_value=json_response(COMPLETION))

    response = await ask(make_client, load_settings(), "openrouter/openai/gpt-4o")

    assert response.status_code == 200, response.text
    headers = route.calls.last.request.headers
    assert (headers["http-referer"], headers["x-title"]) == ("https://example.org", "Example")


@pytest.mark.parametrize(
    ("prefix", "url"),
    [
        ("OPENROUTER", "https://openrouter.ai/api/v1/chat/completions"),
        ("DEEPSEEK", "https://api.deepseek.com/chat/completions"),
    ],
)
async def test_default_base_urls(
    make_client: Any, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, prefix: str, url: str
) -> None:
    monkeypatch.setenv(f"{prefix}_API_KEY", "sk-from-env")
    route = upstream.post(url).mock(return_value=json_response(COMPLETION))

    response = await ask(make_client, load_settings(), f"{prefix.lower()}/some-model")

    assert response.status_code == 200, response.text
    assert route.call_count == 1


async def test_empty_key_variable_means_not_configured(
    make_client: Any, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "")

    response = await ask(make_client, load_settings(), "openrouter/openai/gpt-4o")

    assert response.status_code == 503
    assert "OPENROUTER_API_KEY" in response.json()["error"]["message"]
    assert not upstream.calls


def test_router_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_ROUTER_PORT", "9090")
    monkeypatch.setenv("LLM_ROUTER_MAX_REQUEST_BYTES", "4096")

    settings = load_settings()

    assert (settings.port, settings.max_request_bytes) == (9090, 4096)


# --------------------------------------------------------------------------------------------------- file


async def test_file_overrides_the_environment(
    make_client: Any, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, config: Any
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENROUTER_BASE_URL", "https://env.test/v1")
    path = config('[providers.openrouter]\napi_key = "sk-from-file"\nbase_url = "https://file.test/api/v1"\n')
    route = upstream.post("https://file.test/api/v1/chat/completions").mock(return_value=json_response(COMPLETION))

    response = await ask(make_client, load_settings(path), "openrouter/openai/gpt-4o")

    assert response.status_code == 200, response.text
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-from-file"


async def test_file_values_combine_with_the_environment(
    make_client: Any, upstream: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, config: Any
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-from-env")
    path = config('[providers.deepseek]\nbase_url = "https://file.test"\n')
    route = upstream.post("https://file.test/chat/completions").mock(return_value=json_response(COMPLETION))

    response = await ask(make_client, load_settings(path), "deepseek/deepseek-chat")

    assert response.status_code == 200, response.text
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-from-env"


def test_top_level_file_values_override_the_environment(monkeypatch: pytest.MonkeyPatch, config: Any) -> None:
    monkeypatch.setenv("LLM_ROUTER_PORT", "9090")
    path = config("port = 7070\nmax_request_bytes = 2048\n")

    settings = load_settings(path)

    assert (settings.port, settings.max_request_bytes) == (7070, 2048)


def test_config_file_named_by_the_environment(monkeypatch: pytest.MonkeyPatch, config: Any) -> None:
    monkeypatch.setenv("LLM_ROUTER_CONFIG", str(config("port = 7171\n")))

    assert load_settings().port == 7171


def test_overrides_beat_the_file(config: Any) -> None:
    assert load_settings(config("port = 7070\n"), port=6060).port == 6060


# ------------------------------------------------------------------------------------------------- errors


def test_unknown_provider_table(config: Any, http: httpx.AsyncBaseTransport) -> None:
    settings = load_settings(config('[providers.openruter]\napi_key = "x"\n'))

    with pytest.raises(ConfigError) as caught:
        build_app(http, settings)

    message = str(caught.value)
    assert "openruter" in message
    assert "openrouter" in message  # the installed providers are listed


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('timeout = "soon"', "timeout"),
        ("base_url = 42", "base_url"),
        ('base_url = "https://user:sk-secret-value@openrouter.ai/api/v1"', "base_url"),
        ("max_response_bytes = 0", "max_response_bytes"),
        ('max_event_bytes = "1 MiB"', "max_event_bytes"),
        ('api_kee = "sk-typo"', "api_kee"),
    ],
)
def test_invalid_provider_value_names_the_field(
    config: Any, http: httpx.AsyncBaseTransport, table: str, field: str
) -> None:
    settings = load_settings(config(f'[providers.openrouter]\napi_key = "sk-secret-value"\n{table}\n'))

    with pytest.raises(ConfigError) as caught:
        build_app(http, settings)

    message = str(caught.value)
    assert field in message
    assert "providers.openrouter" in message
    assert "sk-secret-value" not in message


@pytest.mark.parametrize("variable", ["DEEPSEEK_TIMEOUT", "OPENROUTER_TIMEOUT"])
def test_invalid_provider_value_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncBaseTransport, config: Any, variable: str
) -> None:
    monkeypatch.setenv(variable, "abc")
    settings = load_settings(config('[providers.openrouter]\napp_title = "from the file"\n'))

    with pytest.raises(ConfigError) as caught:
        build_app(http, settings)

    message = str(caught.value)
    assert f"environment variable {variable}:" in message
    assert "[providers." not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LLM_ROUTER_PORT", "abc"), ("LLM_ROUTER_BODY_TIMEOUT", "0"), ("LLM_ROUTER_LOG_FORMAT", "xml")],
)
def test_invalid_router_value_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, config: Any, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    path = config("workers = 2\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(path)

    message = str(caught.value)
    assert f"environment variable {variable}:" in message
    assert str(path) not in message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('port = "eighty"', "port"),
        ("port = 70000", "port"),
        ("max_request_bytes = 10", "max_request_bytes"),
        ("workers = 0", "workers"),
        ("prot = 8080", "prot"),
        ('providers = "openrouter"', "providers"),
        ("[redis]\nlease_ttl = 4\nlease_renew_interval = 3", "lease_renew_interval"),
        ("[routing]\nmax_tracked_targets = 0", "max_tracked_targets"),
    ],
)
def test_invalid_router_value_names_the_field(config: Any, text: str, field: str) -> None:
    path = config(text + "\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(path)

    message = str(caught.value)
    assert field in message
    assert str(path) in message


def test_an_invalid_flag_is_named_as_a_flag(config: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(config("port = 7070\n"), port=70000, host="localhost")

    message = str(caught.value)
    assert "--port: Input should be less than or equal to 65535" in message
    assert "--host: must be an IP address" in message


def test_a_flag_replaces_an_invalid_file_value(config: Any) -> None:
    assert load_settings(config('port = "eighty"\n'), port=8080).port == 8080


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("prot = 8080", "prot in {path}: not a known setting (did you mean 'port'?)"),
        ("[routing]\ntimout = 3", "routing.timout in {path}: not a known setting (did you mean 'timeout'?)"),
        (
            '[models.smart]\ntargets = ["mock/text"]\nstratgy = "weighted"',
            "models.smart.stratgy in {path}: not a known setting (did you mean 'strategy'?)",
        ),
        (
            '[models.smart]\ntargets = [{ model = "mock/text", wieght = 2 }]',
            "models.smart.targets.0.wieght in {path}: not a known setting (did you mean 'weight'?)",
        ),
        ('[keys.n8n]\nsha = "00"', "keys.n8n.sha in {path}: not a known setting (did you mean 'sha256'?)"),
        ("zzz = 1", "zzz in {path}: not a known setting."),
    ],
)
def test_an_unknown_key_comes_with_the_closest_known_one(config: Any, text: str, suggestion: str) -> None:
    path = config(text + "\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(path)

    assert suggestion.format(path=path) in str(caught.value)


def test_an_unknown_provider_key_comes_with_the_closest_known_one(config: Any, http: httpx.AsyncBaseTransport) -> None:
    settings = load_settings(config('[providers.openrouter]\napi_kee = "sk-secret-value"\n'))

    with pytest.raises(ConfigError) as caught:
        build_app(http, settings)

    message = str(caught.value)
    assert "api_kee in [providers.openrouter]: not a known setting (did you mean 'api_key'?)" in message
    assert "sk-secret-value" not in message


def test_invalid_toml(config: Any) -> None:
    path = config("[providers.openrouter\napi_key = \n")

    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nowhere.toml")


# --------------------------------------------------------------------------------------------- documented


def test_every_router_setting_is_in_the_example_config() -> None:
    text = (ROOT / "llm-router.example.toml").read_text(encoding="utf-8")

    missing = [name for name in Settings.model_fields if not re.search(rf"^(# )?(\[{name}[\].]|{name} =)", text, re.M)]

    assert missing == []


def test_every_router_variable_is_in_the_readme() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    scalars = [name for name, field in Settings.model_fields.items() if not _is_table(field.annotation)]

    missing = [name for name in scalars if f"`{settings_variable(Settings, name)}`" not in text]

    assert len(scalars) > 10
    assert missing == []


def _is_table(annotation: Any) -> bool:
    return get_origin(annotation) is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel))


@pytest.mark.parametrize("settings_class", [OpenRouterSettings, DeepSeekSettings])
def test_provider_settings_do_not_show_the_key(settings_class: type[ProviderSettings]) -> None:
    settings = settings_class(api_key="sk-secret-value")

    assert "sk-secret-value" not in repr(settings)
    assert "sk-secret-value" not in str(settings)
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "sk-secret-value"
