"""Client keys: who may use the router, and which models each client may ask for.

The configuration holds only each key's SHA-256 digest (`[keys.<name>] sha256 = "..."`, printed by
`llm-router hash-key`), so a leaked config file gives no one a usable key. A presented key is hashed and
compared with every configured digest with `hmac.compare_digest`, all of them every time: how long the
check takes says nothing about which names exist or how close a guess came.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from app.settings import ClientKeySettings

__all__ = ["ClientKey", "KeyRing", "hash_key", "new_key"]

_KEY_PREFIX = "sk-llmr-"


def hash_key(key: str) -> str:
    """The digest to configure for `key` (hex SHA-256 of its UTF-8 bytes)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random client key (256 bits)."""
    return _KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True, eq=False)
class ClientKey:
    """One configured client: its name (in logs and metrics, never the key itself) and its limits."""

    name: str
    digest: bytes
    models: tuple[str, ...] = ("*",)
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    tools: tuple[str, ...] = ()
    """Registry tool name patterns (`weather_*`) this client may see and invoke; none by default."""
    _pattern: re.Pattern[str] | None = field(init=False, repr=False)
    _tool_pattern: re.Pattern[str] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Shell-style patterns (`openrouter/*`), compiled once into one expression; None allows everything.
        pattern = None if "*" in self.models else re.compile("|".join(map(fnmatch.translate, self.models)))
        object.__setattr__(self, "_pattern", pattern)
        tools = re.compile("|".join(map(fnmatch.translate, self.tools))) if self.tools else None
        object.__setattr__(self, "_tool_pattern", tools)

    def allows(self, model: str) -> bool:
        """Whether this client may ask for `model` (an alias or a `<provider>/<model>` id)."""
        return self._pattern is None or self._pattern.match(model) is not None

    def allows_tool(self, name: str) -> bool:
        """Whether this client may see and invoke the registry tool `name`."""
        return self._tool_pattern is not None and self._tool_pattern.match(name) is not None

    @property
    def limited(self) -> bool:
        return self.requests_per_minute is not None or self.tokens_per_minute is not None


class KeyRing:
    """The configured client keys. Empty means the router is open to anyone who can reach it."""

    def __init__(self, keys: Iterable[ClientKey] = ()) -> None:
        self._keys = tuple(keys)

    @classmethod
    def from_settings(cls, keys: Mapping[str, ClientKeySettings]) -> KeyRing:
        return cls(
            ClientKey(
                name=name,
                digest=bytes.fromhex(key.sha256),
                models=tuple(key.models),
                requests_per_minute=key.requests_per_minute,
                tokens_per_minute=key.tokens_per_minute,
                tools=tuple(key.tools),
            )
            for name, key in keys.items()
        )

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def authenticate(self, presented: str | None) -> ClientKey | None:
        """The client `presented` belongs to, or None."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found: ClientKey | None = None
        for key in self._keys:
            # No early exit: every digest is compared whichever one matches.
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found
