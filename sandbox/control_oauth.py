"""The control plane for OAuth 2.0 apps: register clients, list and revoke grants (what an
admin does in Atlassian's UI), and see the dynamic webhooks apps registered."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox.context import sandbox_of
from sandbox.errors import JiraError, field_errors

if TYPE_CHECKING:
    from sandbox.core import Sandbox

control_oauth = Blueprint("sandbox_control_oauth", __name__, url_prefix="/sandbox")


def _sb() -> Sandbox:
    return sandbox_of(current_app)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise JiraError(400, "The request body must be a JSON object.")
    return data


def _redirect_uris(value: Any) -> tuple[str, ...]:
    uris = [value] if isinstance(value, str) else value
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise field_errors({"redirect_uris": "Give one or more callback URLs."})
    if not all(u.startswith(("http://", "https://")) for u in uris):
        raise field_errors({"redirect_uris": "Callback URLs must be absolute http(s) URLs."})
    return tuple(uris)


@control_oauth.post("/oauth/clients")
def register_client() -> tuple[Response, int]:
    """Register (or replace) a client; ids and secrets are generated when not given."""
    body = _body()
    lifetime = body.get("access_token_lifetime")
    if lifetime is not None and (not isinstance(lifetime, int | float) or lifetime <= 0):
        raise field_errors({"access_token_lifetime": "Give a positive number of seconds."})
    client = _sb().oauth.register(
        str(body.get("client_id") or secrets.token_urlsafe(16)),
        str(body.get("client_secret") or secrets.token_urlsafe(32)),
        _redirect_uris(body.get("redirect_uris")),
        str(body.get("name") or ""),
        float(lifetime) if lifetime is not None else None,
    )
    return jsonify({**client.public(), "client_secret": client.client_secret}), 201


@control_oauth.get("/oauth/clients")
def list_clients() -> Response:
    oauth = _sb().oauth
    with oauth.lock:
        return jsonify([client.public() for client in oauth.clients.values()])


@control_oauth.get("/oauth/grants")
def list_grants() -> Response:
    return jsonify(_sb().oauth.listing(request.args.get("client_id")))


@control_oauth.post("/oauth/grants/<grant_id>/revoke")
def revoke_grant(grant_id: str) -> Response:
    grant = _sb().oauth.revoke_grant(grant_id)
    if grant is None:
        raise JiraError(404, f"No grant {grant_id}.")
    return jsonify(grant.public())


@control_oauth.get("/dynamic-webhooks")
def list_dynamic_webhooks() -> Response:
    return jsonify(_sb().dynhooks.listing())
