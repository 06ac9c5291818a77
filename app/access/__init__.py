"""Who may use the router and how much: client keys, the models each may ask for, and its rate limits.

keys        configured keys (SHA-256 digests), checked in constant time; allowed-model patterns
limits      per-key requests and tokens per minute: the limiter interface and the in-process limiter
gate        the middleware that authenticates `/v1/*` requests, and the admission handlers ask for
"""

from __future__ import annotations

from app.access.keys import ClientKey, KeyRing, hash_key, new_key
from app.access.limits import Admission, LocalRateLimiter, Quota, RateLimiter

__all__ = [
    "Admission",
    "ClientKey",
    "KeyRing",
    "LocalRateLimiter",
    "Quota",
    "RateLimiter",
    "hash_key",
    "new_key",
]
