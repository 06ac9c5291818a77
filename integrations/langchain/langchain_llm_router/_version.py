"""The package version; the single source the build backend reads it from."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
