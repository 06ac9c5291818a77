"""The router's own OpenAPI description (`app/openapi.yaml`), served as JSON at `GET /openapi.json`.

The description is written by hand, next to the code: litestar's generated schema cannot describe
handlers that take raw bodies (the router decodes them itself, to keep unknown fields byte for byte). It is
read and encoded once, on the first request for it.
"""

from __future__ import annotations

import functools
from importlib import resources

import msgspec
import yaml

from app import __version__

__all__ = ["description"]


@functools.cache
def description() -> bytes:
    """The OpenAPI description as JSON, stamped with the installed version."""
    text = (resources.files(__package__ or "app") / "openapi.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    document["info"]["version"] = __version__
    return msgspec.json.encode(document)
