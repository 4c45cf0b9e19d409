"""The control plane for personal-data reporting: close an Atlassian account or change its
profile (on every site), set how reports are answered, and read the reports received."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox.context import sandbox_of
from sandbox.errors import JiraError, field_errors

if TYPE_CHECKING:
    from sandbox.core import Sandbox

control_privacy = Blueprint("sandbox_control_privacy", __name__, url_prefix="/sandbox")


def _sb() -> Sandbox:
    return sandbox_of(current_app)


@control_privacy.post("/accounts/<account_id>/close")
def close_account(account_id: str) -> Response:
    closed = _sb().privacy.close(account_id)
    return jsonify({"accountId": account_id, "closedAt": closed.isoformat()})


@control_privacy.post("/accounts/<account_id>/update")
def update_account(account_id: str) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise JiraError(400, "The request body must be a JSON object.")
    changes = {k: body.get(k) for k in ("displayName", "email") if k in body}
    bad = {
        k: "Must be a non-empty string."
        for k, v in changes.items()
        if not v or not isinstance(v, str)
    }
    if not changes or bad:
        raise field_errors(bad or {"displayName": "Give a displayName or an email."})
    changed = _sb().privacy.update(account_id, changes.get("displayName"), changes.get("email"))
    return jsonify({"accountId": account_id, "updatedAt": changed.isoformat()})


@control_privacy.get("/personal-data")
def view() -> Response:
    return jsonify(_sb().privacy.view())


@control_privacy.put("/personal-data")
def configure() -> Response:
    try:
        _sb().privacy.configure(request.get_json(silent=True))
    except ValueError as exc:
        raise JiraError(400, f"Invalid settings: {exc}") from None
    return jsonify(_sb().privacy.settings())


@control_privacy.delete("/personal-data/reports")
def clear_reports() -> Response:
    _sb().privacy.clear_log()
    return Response(status=204)
