"""How handlers ask for the worker's domain objects: `Injected[T]`, filled by name from `create_app`'s
dependencies.

The objects are built once per worker, so there is nothing to validate per request: the framework is told
to hand them over as they are (which also lets a parameter's type be a protocol).
"""

from __future__ import annotations

from typing import Annotated, TypeAlias, TypeVar

from litestar.di import Dependency
from litestar.params import SkipValidationMarker

__all__ = ["Injected"]

T = TypeVar("T")

Injected: TypeAlias = Annotated[T, Dependency(kind="named"), SkipValidationMarker()]
