"""Jira webhooks: verified, validated and committed to the inbox before we say "received"."""

from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DataError

from handlers.connect_auth import connect_jwt, runtime
from handlers.request_body import validated_json
from sync.inbox import Arrival, record_webhook
from sync.sites import is_known_own_change

webhooks = Blueprint("webhooks", __name__)

# Route slug -> Jira event; the descriptor subscribes each event to its slug's URL.
EVENTS = {
    "issue-created": "jira:issue_created",
    "issue-updated": "jira:issue_updated",
    "issue-deleted": "jira:issue_deleted",
    "comment-created": "comment_created",
    "comment-updated": "comment_updated",
    "comment-deleted": "comment_deleted",
    "attachment-created": "attachment_created",
    "attachment-deleted": "attachment_deleted",
}
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
MAX_IDENTIFIER_LENGTH = 200


@webhooks.before_request
def limit_body_size() -> None:
    """Refuse webhook bodies over WEBHOOK_MAX_BYTES with 413."""
    limit = runtime().settings.webhook_max_bytes
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        abort(413, description=f"webhook bodies are limited to {limit} bytes")


@webhooks.post("/connect/webhooks/<slug>")
@connect_jwt()
def receive(slug: str) -> ResponseReturnValue:
    event = EVENTS.get(slug)
    if event is None:
        abort(404, description=f"no webhook route for '{slug}'")
    identifier = request.headers.get(IDENTIFIER_HEADER, "").strip()
    if not identifier or len(identifier) > MAX_IDENTIFIER_LENGTH:
        abort(400, description=f"the {IDENTIFIER_HEADER} header is missing or too long")
    body = validated_json("webhook", "webhook body", "webhookEvent", event)

    rt = runtime()
    installation = g.connect
    if is_known_own_change(rt, installation.installation_id, body):
        return jsonify(status="own-change"), 200  # the echo of Tandem's own write
    return accept(
        Arrival(
            installation.tenant_id,
            identifier,
            event,
            request.get_data(as_text=True),
            installation_id=installation.installation_id,
        )
    )


def accept(arrival: Arrival) -> ResponseReturnValue:
    """Commit an arrival to the inbox: 202 accepted, or 200 for an identifier already
    received; 400 for text PostgreSQL cannot store."""
    try:
        event_id = record_webhook(runtime(), arrival)
    except DataError:
        abort(400, description="the body holds text PostgreSQL cannot store (e.g. \\u0000)")
    if event_id is None:
        return jsonify(status="duplicate"), 200
    return jsonify(status="accepted"), 202
