"""Provider discovery: every adapter, built-in or third-party, comes from one entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.settings import ConfigError, describe_validation_error
from providers.base import Provider

if TYPE_CHECKING:
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
    """One instance of each provider, configured from the environment and its `[providers.<name>]` table."""
    classes = discover_providers() if classes is None else classes
    unknown = sorted(set(settings.providers) - set(classes))
    if unknown:
        raise ConfigError(
            f"The config file configures unknown providers: {', '.join(unknown)}. "
            f"Installed providers: {', '.join(sorted(classes))}."
        )
    providers: dict[str, Provider] = {}
    for name, cls in classes.items():
        try:
            table = settings.providers.get(name, {})
            providers[name] = cls.create(table, transport)
        except ValidationError as exc:
            problem = describe_validation_error(exc, f"[providers.{name}]", cls.settings_class, table)
            raise ConfigError(problem) from None
    return providers
