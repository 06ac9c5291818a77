"""The dashboard's page and files, served by the router from the package (`app/ui/static/`).

    GET /ui             the page (with no admin key configured: a page saying the dashboard is off, 403)
    GET /ui/{file}      its scripts, styles and icon

The files are the source: plain HTML, CSS and JavaScript modules, with no build step and nothing fetched
from elsewhere. They are read once, on the first request, and served from memory with their content type,
an ETag, and a Content-Security-Policy that lets the page load and connect to the router only. Only the
files shipped in the folder can be named: a path is looked up, never joined onto the file system.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get
from litestar.params import FromPath

from providers.errors import NotFound

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from pydantic import SecretStr

__all__ = ["SECURITY_HEADERS", "dashboard_routes"]

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
# Litestar adds `; charset=utf-8` to text types.
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_PAGE = "index.html"
_OFF = "off.html"


class _File:
    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


@functools.cache
def _files() -> dict[str, _File]:
    """Every shipped file, by its path under `static/` (`js/api.js`)."""
    found: dict[str, _File] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = "." + entry.name.rpartition(".")[2]
            if suffix in _TYPES:
                found[prefix + entry.name] = _File(entry.read_bytes(), _TYPES[suffix])

    walk(resources.files(__package__ or "app.ui") / "static", "")
    return found


def _serve(request: Request[Any, Any, Any], name: str, status: int = 200) -> Response[bytes]:
    file = _files().get(name)
    if file is None:
        raise NotFound(f"The dashboard has no file '{name}'.", code="file_not_found")
    headers = {**SECURITY_HEADERS, "etag": file.etag}
    if status == 200 and request.headers.get("if-none-match") == file.etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(file.body, status_code=status, media_type=file.content_type, headers=headers)


def dashboard_routes(admin_key: SecretStr | None) -> list[Any]:
    """`GET /ui` (the page, or without an admin key the page saying the dashboard is off) and its files."""

    def the_page(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _serve(request, _OFF, status=403) if admin_key is None else _serve(request, _PAGE)

    @get("/ui", include_in_schema=False)
    async def page(request: Request[Any, Any, Any]) -> Response[bytes]:
        return the_page(request)

    @get("/ui/{name:path}", include_in_schema=False)
    async def file(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
        name = name.lstrip("/")
        return _serve(request, name) if name else the_page(request)

    return [page, file]
