"""The router's config file for a run: the alias every request names, and the agent scenario's tool and agent.

A user puts an alias in front of a provider's model (``[models.<alias>]``) and names the alias; the
benchmark does the same, so what it measures includes resolving the alias. The tool registry's SQLite file
goes into the run's work directory, so a run never touches the user's own toolsets and agents.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import TYPE_CHECKING, Any

import payloads
import scenario_payloads as sp

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["write_router_config"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_value(value: Any) -> str:
    """A TOML value; JSON's string escapes are TOML's basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _table(name: str, fields: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {_toml_value(value)}\n" for key, value in fields.items()) + "\n"


def write_router_config(path: Path, workdir: Path, tool_url: str | None = None) -> Path:
    """Write the config; with ``tool_url``, also the agent scenario's toolset (one HTTP tool there) and agent."""
    text = _table("tools", {"database": str(workdir / "tools.sqlite3")})
    text += _table(f"models.{payloads.MODEL_ALIAS}", {"targets": [payloads.TARGET_MODEL]})
    if tool_url is not None:
        tool = {
            "name": sp.TOOL_IN_TOOLSET,
            "description": "Weather forecast for a city, a few days ahead.",
            "url": tool_url,
            "method": "POST",
            "parameters": sp.forecast_parameters(),
        }
        text += _table(f"toolsets.{sp.TOOLSET}", {"kind": "http", "description": "Weather service", "tools": [tool]})
        agent = {
            "model": payloads.MODEL_ALIAS,
            "tools": [f"{sp.TOOLSET}_*"],
            "instructions": "You answer questions about the weather, briefly.",
            "max_rounds": 1,
        }
        text += _table(f"agents.{sp.AGENT_NAME}", agent)
    tomllib.loads(text)  # a mistake here should stop the run, not the router with a parse error
    path.write_text(text)
    return path
