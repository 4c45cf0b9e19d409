"""A short-lived, per-process cache of installations by clientKey.

Verifying a webhook needs the installation's sharedSecret; fetching it costs two
transactions. Entries live a few seconds; a signature that fails against a cached
secret is retried once against a fresh read (a re-install may have replaced it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class TtlCache(Generic[Value]):
    """A bounded mapping whose entries expire after ``ttl_seconds``."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[float, Value]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: str, load: Callable[[str], Value | None]) -> Value | None:
        """The cached value, or ``load(key)`` (cached unless None)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load(key)
        if value is not None and self._ttl > 0:
            with self._lock:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[key] = (now + self._ttl, value)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
