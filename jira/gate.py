"""One "not before" time per Jira site, shared by every worker through Redis.

When Jira answers 429/503 with Retry-After, it refuses (and lengthens the wait for) any
call made before that time, from any of our workers. So the wait is recorded once per
site and every client checks it before sending."""

from __future__ import annotations

import time
from typing import Protocol

import redis

_LATER_ONLY = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""


class Gate(Protocol):
    """Where a client learns how long to hold off, and records a wait Jira asked for."""

    def wait_seconds(self) -> float: ...

    def hold(self, seconds: float) -> None: ...


class SiteGate:
    """The shared wait of one site (its REST base URL)."""

    def __init__(self, client: redis.Redis, site: str) -> None:
        self._redis = client
        self._key = f"tandem:not-before:{site}"

    def wait_seconds(self) -> float:
        raw = self._redis.get(self._key)
        return max(0.0, float(raw) - time.time()) if raw else 0.0

    def hold(self, seconds: float) -> None:
        until = time.time() + seconds
        self._redis.eval(_LATER_ONLY, 1, self._key, f"{until:.3f}", int(seconds * 1000) + 1000)
