"""The admin key: who may look at and change the router's own state (`/admin/*`, and `/metrics` from afar).

The key is `LLM_ROUTER_ADMIN_KEY` (`admin_key` in the config file), presented as `Authorization: Bearer
<key>` and compared in constant time. A request without a key gets 401; one with a key that is not the
admin key (a client key, say) gets 403. Without a configured key the admin endpoints are off: they answer
403 `admin_disabled`, so nobody can mistake an unprotected router for a protected one.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING, Any

from providers.errors import AdminDisabled, InvalidAPIKey, PermissionDenied

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers import BaseRouteHandler
    from pydantic import SecretStr

__all__ = ["AdminGuard", "bearer_token", "from_loopback"]


class AdminGuard:
    """A litestar guard that lets a request through only with the admin key (or, if `loopback_open`, from
    this host)."""

    def __init__(self, admin_key: SecretStr | None, *, loopback_open: bool = False) -> None:
        self._key = admin_key.get_secret_value().encode() if admin_key is not None else None
        self._loopback_open = loopback_open

    def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if self._loopback_open and from_loopback(connection):
            return
        if self._key is None:
            raise AdminDisabled("The admin endpoints are disabled: set LLM_ROUTER_ADMIN_KEY.")
        presented = bearer_token(connection.headers.get("authorization", ""))
        if presented is None:
            raise InvalidAPIKey("The admin key is required: send it as `Authorization: Bearer <key>`.")
        if not hmac.compare_digest(presented.encode(), self._key):
            raise PermissionDenied("That key is not the admin key.", code="invalid_admin_key")


def bearer_token(authorization: str) -> str | None:
    """The credentials of an `Authorization: Bearer <token>` header value, or None."""
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


def from_loopback(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request comes from this host (a scraper beside the router)."""
    client = connection.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False
