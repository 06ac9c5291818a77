"""Configuration: environment variables, overridden by an optional TOML file.

The server's own settings read `LLM_ROUTER_*` variables; each provider's settings read its conventional
variables (`OPENROUTER_API_KEY`, `DEEPSEEK_BASE_URL`, ...) through its own settings class. A TOML file
(`--config FILE` or `LLM_ROUTER_CONFIG`) overrides both: top-level keys for the server, and a
`[providers.<name>]` table for each provider. See `llm-router.example.toml`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ConfigError", "Settings", "load_settings"]

CONFIG_ENV = "LLM_ROUTER_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to fix."""


class Settings(BaseSettings):
    """The router's own settings. Provider settings live in the provider adapters."""

    model_config = SettingsConfigDict(env_prefix="LLM_ROUTER_", extra="forbid", env_ignore_empty=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    """Request bodies larger than this get 413."""
    log_level: str = "INFO"
    upstream_max_connections: int = Field(default=512, ge=1)
    """Connections the shared upstream client keeps open across all providers."""
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """`[providers.<name>]` tables from the config file, each read by that provider's settings class."""


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, the TOML file (if any) and `overrides`, in rising priority."""
    path = config_file or os.environ.get(CONFIG_ENV)
    values: dict[str, Any] = {}
    if path:
        try:
            values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"The config file {path} does not exist.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from None
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, path)) from None


def describe_validation_error(exc: ValidationError, source: str | os.PathLike[str] | None) -> str:
    """One line per problem, naming the setting, for a person reading a start-up error."""
    where = f" in {source}" if source else ""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
        for error in exc.errors()
    )
    return f"Invalid configuration{where}: {problems}."
