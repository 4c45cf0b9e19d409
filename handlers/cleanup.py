"""Disconnect & clean up, started and polled by an installation (Connect JWT): a dry run
first reports what would go, per site and kind; a real run removes it and disconnects.
The admin pages call these (and the same functions) once they exist."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from compliance.cleanup_jobs import start_cleanup
from compliance.cleanup_runs import Scope, run_view
from handlers.connect_auth import connect_jwt, runtime
from schemas import InvalidPayload, validate

cleanup = Blueprint("cleanup", __name__)
ADMIN = "admin"  # a Jira admin, through the installation's admin page


def _answer(code: int, **body: object) -> ResponseReturnValue:
    response = jsonify(body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response


@cleanup.post("/connect/cleanup")
@connect_jwt()
def start() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    try:
        validate("cleanup", body)
    except InvalidPayload as error:
        return _answer(400, error="Bad Request", message=f"invalid clean-up request: {error}")
    integration = body.get("integration_id")
    scope = Scope(body["scope"], uuid.UUID(integration) if integration else None)
    rt = runtime()
    try:
        run_id, started = start_cleanup(
            rt, g.connect.tenant_id, scope, dry_run=body["dry_run"], actor=ADMIN
        )
    except LookupError:
        return _answer(404, error="Not Found", message="no such integration in this workspace")
    status_url = f"{rt.settings.base_url}/connect/cleanup/{run_id}"
    if not started:
        return _answer(
            409,
            error="Conflict",
            message="a clean-up of this workspace is already under way",
            run_id=run_id,
            status_url=status_url,
        )
    response = _answer(202, run_id=run_id, status="queued", status_url=status_url)
    response.headers["Location"] = status_url
    return response


@cleanup.get("/connect/cleanup/<run_id>")
@connect_jwt()
def status(run_id: str) -> ResponseReturnValue:
    try:
        run_id = str(uuid.UUID(run_id))
    except ValueError:
        return _answer(404, error="Not Found", message="no such clean-up run")
    view = run_view(runtime().redis, run_id)
    if view is None or view.pop("tenant") != str(g.connect.tenant_id):
        return _answer(404, error="Not Found", message="no such clean-up run")
    return _answer(200, **view)
