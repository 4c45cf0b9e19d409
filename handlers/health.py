"""``/healthz`` (the process is up) and ``/readyz`` (its database and Redis answer)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

health = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@health.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: answers as long as the process serves requests."""
    return jsonify(status="ok")


@health.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: 200 when PostgreSQL and Redis both answer, else 503 naming what failed."""
    runtime = current_app.extensions["tandem"]
    checks = {"database": _check(runtime.db.ping), "redis": _check(runtime.redis.ping)}
    failing = [name for name, result in checks.items() if result != "ok"]
    if failing:
        return jsonify(status="unavailable", failing=failing, checks=checks), 503
    return jsonify(status="ready", checks=checks)


def _check(probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as exc:  # any failure means "not ready"; the reason is logged, not shown
        log.warning("readiness check failed: %s", type(exc).__name__)
        return "unreachable"
    return "ok"
