"""Dynamic webhooks over REST: `POST|GET|DELETE /webhook` and `PUT /webhook/refresh`."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request

from sandbox.context import sandbox_of
from sandbox.dynhooks import DynamicWebhooks
from sandbox.errors import JiraError
from sandbox.rest import rest


def _hooks() -> DynamicWebhooks:
    return sandbox_of(current_app).dynhooks


def _ids() -> list[int]:
    body: Any = request.get_json(silent=True)
    ids = body.get("webhookIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
        raise JiraError(400, "webhookIds must be a non-empty list of webhook ids.")
    return ids


@rest.post("/webhook")
def register_webhooks() -> Response:
    try:
        return jsonify(_hooks().register(g.caller, request.get_json(silent=True)))
    except ValueError as exc:
        raise JiraError(400, str(exc)) from None


@rest.get("/webhook")
def list_webhooks() -> Response:
    try:
        start = max(0, int(request.args.get("startAt", 0)))
        size = max(1, min(int(request.args.get("maxResults", 100)), 100))
    except ValueError:
        raise JiraError(400, "startAt and maxResults must be numbers.") from None
    return jsonify(_hooks().page(g.caller, start, size))


@rest.delete("/webhook")
def delete_webhooks() -> Response:
    _hooks().delete(g.caller, _ids())
    return Response(status=202)


@rest.put("/webhook/refresh")
def refresh_webhooks() -> Response:
    return jsonify(_hooks().refresh(g.caller, _ids()))
