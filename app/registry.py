"""Provider discovery: every adapter, built-in or third-party, comes from one entry-point group, and any
OpenAI-compatible server from a `[providers.<name>]` table with `type = "openai-compatible"`."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.settings import ConfigError, describe_validation_error
from providers.base import Provider
from providers.compatible import KIND, NAME, compatible_provider, settings_class

if TYPE_CHECKING:
    from typing import Any

    import httpx

    from app.settings import Settings

__all__ = ["ENTRY_POINT_GROUP", "build_providers", "discover_providers"]

ENTRY_POINT_GROUP = "llm_router.providers"


def discover_providers() -> dict[str, type[Provider]]:
    """The provider classes installed in this environment, by routing prefix."""
    found: dict[str, type[Provider]] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        provider = entry_point.load()
        if not (isinstance(provider, type) and issubclass(provider, Provider)):
            raise ConfigError(f"The entry point {entry_point.value!r} ({entry_point.name}) is not a Provider.")
        found[entry_point.name] = provider
    return found


def build_providers(
    settings: Settings, transport: httpx.AsyncBaseTransport, classes: dict[str, type[Provider]] | None = None
) -> dict[str, Provider]:
    """One instance of each installed provider, configured from the environment and its `[providers.<name>]`
    table, and one for each table that defines a server of its own (`type`)."""
    classes = discover_providers() if classes is None else classes
    defined = {name: table for name, table in settings.providers.items() if "type" in table}
    _check_defined(defined, classes)
    unknown = sorted(set(settings.providers) - set(classes) - set(defined))
    if unknown:
        raise ConfigError(
            f"The config file configures unknown providers: {', '.join(unknown)}. "
            f"Installed providers: {', '.join(sorted(classes))}; any other server that speaks OpenAI's API "
            f'needs type = "{KIND}" and its base_url in its table.'
        )
    providers: dict[str, Provider] = {}
    for name, cls in classes.items():
        try:
            table = settings.providers.get(name, {})
            providers[name] = cls.create(table, transport)
        except ValidationError as exc:
            problem = describe_validation_error(exc, f"[providers.{name}]", cls.settings_class, table)
            raise ConfigError(problem) from None
    for name, table in defined.items():
        try:
            providers[name] = compatible_provider(name, table, transport)
        except ValidationError as exc:
            # A setting missing from a server's table is missing there, whatever variable could also hold it.
            missing = all(error["type"] == "missing" for error in exc.errors())
            problem = describe_validation_error(
                exc, f"[providers.{name}]", settings_class(name), None if missing else table
            )
            raise ConfigError(problem) from None
    return providers


def _check_defined(defined: dict[str, dict[str, Any]], classes: dict[str, type[Provider]]) -> None:
    """Tables that define a server: a kind the router knows, under a name that is free and can prefix a model."""
    for name, table in defined.items():
        if name in classes:
            raise ConfigError(
                f"[providers.{name}] sets type, but {name} is an installed provider, configured without one: "
                f"give the server another name."
            )
        if table["type"] != KIND:
            raise ConfigError(f'[providers.{name}] type: {table["type"]!r} is not a kind the router knows ("{KIND}").')
        if NAME.fullmatch(name) is None:
            raise ConfigError(
                f"[providers.{name}]: a provider's name is 1 to 64 lowercase letters, digits, '-' or '_', starting "
                "with a letter or digit (it prefixes model ids and environment variables)."
            )
