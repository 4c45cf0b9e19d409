"""Dynamic webhooks from OAuth-connected sites: verified (Bearer JWT signed with our
client secret), matched to the tenant and connection, validated, and committed to the
same inbox as Connect webhooks before we say "received"."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue

from auth.errors import ConnectAuthError
from auth.oauth_webhook import cloud_id_of, verify_webhook_token
from handlers.connect_auth import runtime, unauthorized
from handlers.webhooks import IDENTIFIER_HEADER, MAX_IDENTIFIER_LENGTH, accept, limit_body_size
from models.connection_lifecycle import webhook_tenant
from schemas import InvalidPayload, validate
from sync.connection_webhooks import EVENTS
from sync.inbox import Arrival
from sync.sites import is_known_own_change

oauth_webhooks = Blueprint("oauth_webhooks", __name__)
oauth_webhooks.before_request(limit_body_size)


@oauth_webhooks.post("/oauth/webhooks/<connection_id>")
def receive(connection_id: str) -> ResponseReturnValue:
    rt = runtime()
    settings = rt.settings
    if not settings.oauth_configured:
        response = jsonify(
            error="Service Unavailable",
            message="OAuth is not configured: set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET",
        )
        response.status_code = 503
        return response
    try:
        connection = uuid.UUID(connection_id)
    except ValueError:
        abort(404, description="no such connection")
    try:
        claims = verify_webhook_token(
            request.headers.get("Authorization"),
            settings.oauth_client_secret,
            settings.oauth_client_id,
            settings.jwt_leeway_seconds,
        )
        cloud_id = cloud_id_of(claims)
    except ConnectAuthError as error:
        return unauthorized(str(error), "Bearer")
    tenant_id = webhook_tenant(rt.db, cloud_id, connection)
    if tenant_id is None:
        return unauthorized("the token's site is not the site of this connection", "Bearer")
    identifier = request.headers.get(IDENTIFIER_HEADER, "").strip()
    if not identifier or len(identifier) > MAX_IDENTIFIER_LENGTH:
        abort(400, description=f"the {IDENTIFIER_HEADER} header is missing or too long")
    body = request.get_json(silent=True)
    try:
        validate("webhook", body)
    except InvalidPayload as error:
        abort(400, description=f"invalid webhook body: {error}")
    event = body["webhookEvent"]
    if event not in EVENTS:
        abort(400, description=f"webhookEvent '{event[:100]}' is not one Tandem subscribes to")
    if is_known_own_change(rt, connection, body):
        return jsonify(status="own-change"), 200  # the echo of Tandem's own write
    return accept(
        Arrival(
            tenant_id, identifier, event, request.get_data(as_text=True), connection_id=connection
        )
    )
