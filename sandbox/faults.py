"""Fault injection for REST calls: latency with jitter, 429 with Atlassian's rate-limit
headers, 5xx (503 with Retry-After) and timeouts, optionally for one app, reproducible
with a seed. The control plane sets it at run time (`PUT /sandbox/faults`)."""

from __future__ import annotations

import math
import random
import threading
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

from sandbox.times import utcnow

RATE_FIELDS = ("rate_429", "rate_5xx", "rate_timeout")


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. Rates are probabilities per REST call (0..1, summing to <= 1)."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_429: float = 0.0
    retry_after_s: float = 1.0
    rate_5xx: float = 0.0
    status_5xx: int = 503
    rate_timeout: float = 0.0
    timeout_s: float = 10.0
    rate_limit: int = 100
    app: str | None = None
    seed: int | str | None = None
    enforce_retry_after: bool = True

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Validated settings; ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        for name in known - {"app", "seed", "enforce_retry_after"}:
            value = data.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number, not negative")
        if not isinstance(data.get("app", ""), str | None):
            raise ValueError("app must be a Connect app key or an OAuth client id")
        seed = data.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int | str | None):
            raise ValueError("seed must be a number or a string")
        if not isinstance(data.get("enforce_retry_after", True), bool):
            raise ValueError("enforce_retry_after must be true or false")
        config = cls(**data)
        if sum(getattr(config, n) for n in RATE_FIELDS) > 1:
            raise ValueError("rate_429 + rate_5xx + rate_timeout must not exceed 1")
        if not 500 <= config.status_5xx <= 599:
            raise ValueError("status_5xx must be a 5xx status")
        return config

    def public(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def retry_after(self) -> int:
        """The Retry-After header value: whole seconds, at least 1."""
        return max(1, math.ceil(self.retry_after_s))


@dataclass(frozen=True)
class Fault:
    """The decision for one call: a delay, then maybe an injected failure."""

    delay: float
    kind: str | None = None  # "429", "5xx", "timeout"


class FaultInjector:
    """Holds the current settings and the random source; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config: FaultConfig | None = None
        self._random = random.Random()  # noqa: S311 - test faults, not security

    def set(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._random = random.Random(config.seed)  # noqa: S311

    def clear(self) -> None:
        with self._lock:
            self.config = None

    def current(self) -> FaultConfig | None:
        with self._lock:
            return self.config

    def decide(self, app: str) -> tuple[Fault, FaultConfig | None]:
        """What happens to one call from `app` (no fault when the settings name another)."""
        with self._lock:
            config = self.config
            if config is None or (config.app is not None and config.app != app):
                return Fault(0.0), None
            jitter = self._random.uniform(-1, 1) * config.latency_jitter_ms
            delay = max(0.0, config.latency_ms + jitter) / 1000
            roll = self._random.random()
        kind = None
        for name in RATE_FIELDS:
            chance = getattr(config, name)
            if roll < chance:
                kind = name.removeprefix("rate_")
                break
            roll -= chance
        return Fault(delay, kind), config


def rate_limit_headers(config: FaultConfig, retry_after: int) -> dict[str, str]:
    """The headers Jira puts on a 429 (burst limit)."""
    reset = utcnow() + timedelta(seconds=retry_after)
    return {
        "Retry-After": str(retry_after),
        "X-RateLimit-Limit": str(config.rate_limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
        "X-RateLimit-NearLimit": "true",
        "RateLimit-Reason": "jira-burst-based",
    }
