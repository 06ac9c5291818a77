"""The commented example configuration in the repository must stay loadable."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.registry import build_providers
from app.settings import load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "llm-router.example.toml"


def test_example_config_loads_and_configures_every_provider_table() -> None:
    settings = load_settings(EXAMPLE)

    providers = build_providers(settings, httpx.MockTransport(lambda request: httpx.Response(500)))

    assert settings.port == 8080
    assert set(settings.providers) <= set(providers)
    assert providers["openrouter"].settings.base_url == "https://openrouter.ai/api/v1"
    assert providers["deepseek"].settings.base_url == "https://api.deepseek.com"
    assert providers["anthropic"].settings.base_url == "https://api.anthropic.com"
