"""llm-router: an OpenAI-compatible router in front of many LLM providers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("llm-router")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
