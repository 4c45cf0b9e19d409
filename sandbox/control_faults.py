"""The control plane for resilience tests: fault injection, per-app counters (calls,
points, Retry-After violations) and the scope registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox import scopes
from sandbox.context import sandbox_of
from sandbox.errors import JiraError
from sandbox.faults import FaultConfig

if TYPE_CHECKING:
    from sandbox.core import Sandbox

control_faults = Blueprint("sandbox_control_faults", __name__, url_prefix="/sandbox")


def _sb() -> Sandbox:
    return sandbox_of(current_app)


def _faults_view() -> Response:
    config = _sb().faults.current()
    return jsonify({"active": config is not None, **(config.public() if config else {})})


@control_faults.put("/faults")
def set_faults() -> Response:
    try:
        config = FaultConfig.from_json(request.get_json(silent=True))
    except ValueError as exc:
        raise JiraError(400, f"Invalid faults: {exc}") from None
    _sb().faults.set(config)
    return _faults_view()


@control_faults.get("/faults")
def get_faults() -> Response:
    return _faults_view()


@control_faults.delete("/faults")
def clear_faults() -> Response:
    _sb().faults.clear()
    return Response(status=204)


@control_faults.get("/counters")
def get_counters() -> Response:
    return jsonify(_sb().counters.snapshot(request.args.get("app")))


@control_faults.delete("/counters")
def reset_counters() -> Response:
    _sb().counters.reset()
    return Response(status=204)


@control_faults.get("/scopes")
def get_scopes() -> Response:
    return jsonify(scopes.listing())
