"""The Forge remote: lifecycle events, product events (into the same inbox as Connect
webhooks), the hourly scheduled trigger, and the issue panel and admin page's calls."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from flask.typing import ResponseReturnValue

from auth.errors import ConnectAuthError
from handlers.connect_auth import runtime
from handlers.forge_auth import forge_invocation, not_configured, refused, verified
from handlers.webhooks import accept, limit_body_size
from jira.errors import JiraError
from models.forge_lifecycle import reinstall_forge_site, uninstall_forge_site
from schemas import InvalidPayload, validate
from sync.forge_events import event_identifier, webhook_body
from sync.forge_remote import (
    MissingSystemToken,
    UnknownInstallation,
    identity,
    keep_token,
    site_base_url,
    site_for,
)
from sync.inbox import Arrival
from sync.integration_admin import list_integrations
from sync.issue_state import IssueRef, issue_mirrors
from sync.sites import is_known_own_change

forge = Blueprint("forge", __name__)
forge.before_request(limit_body_size)
INSTALLED, UNINSTALLED = "avi:forge:installed:app", "avi:forge:uninstalled:app"


def _body(schema: str, label: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    try:
        validate(schema, body)
    except InvalidPayload as error:
        abort(400, description=f"invalid {label}: {error}")
    return body


@forge.post("/forge/lifecycle")
def lifecycle() -> ResponseReturnValue:
    """``installed`` creates (or carries over from Connect) the site's workspace;
    ``uninstalled`` drops the token and, with no Connect install left, schedules the
    workspace's deletion; ``upgraded`` only refreshes the token."""
    unavailable = not_configured()
    if unavailable is not None:
        return unavailable
    rt = runtime()
    try:
        invocation, token = verified()
    except ConnectAuthError as error:
        return refused(str(error))
    body = _body("forge_lifecycle", "Forge lifecycle event")
    if body.get("id") not in (None, invocation.installation_id, invocation.installation_id[-36:]):
        abort(400, description="the event is for another installation than the token")
    event = body["eventType"]
    try:
        site = site_for(rt, invocation, installing=event == INSTALLED, token=token)
    except UnknownInstallation as error:
        if event == UNINSTALLED:
            return "", 204  # nothing is held for it
        return refused(str(error))
    except ConnectAuthError as error:
        return refused(str(error))
    except MissingSystemToken as error:
        abort(400, description=str(error))
    except JiraError:
        abort(503, description="Jira could not be reached to install the site; retry")
    if event == INSTALLED and not site.new and not site.connect:
        try:  # a re-install: the site may have a new URL
            site = reinstall_forge_site(rt.db, site, site_base_url(rt, identity(invocation), token))
        except (MissingSystemToken, JiraError):
            site = reinstall_forge_site(rt.db, site, None)
    elif event == INSTALLED and site.status != "installed":
        site = reinstall_forge_site(rt.db, site, None)
    if event == UNINSTALLED:
        if site.status == "installed":
            uninstall_forge_site(rt.db, site)
    else:
        keep_token(rt, site, invocation, token, look=True)
    rt.forge_sites.forget(invocation.installation_id)
    return "", 204


@forge.post("/forge/events")
@forge_invocation()
def product_event() -> ResponseReturnValue:
    """A Jira event: normalised to the webhook the engine reads, committed to the inbox
    (a redelivery is a duplicate), then enqueued."""
    rt = runtime()
    event = _body("forge_event", "Forge event")
    if event.get("selfGenerated") is True:
        return jsonify(status="own-change"), 200  # caused by Tandem's own write
    body = webhook_body(event)
    try:
        validate("webhook", body)
    except InvalidPayload as error:
        abort(400, description=f"invalid Forge event: {error}")
    site = g.forge
    if is_known_own_change(rt, site.installation_id, body):
        return jsonify(status="own-change"), 200
    return accept(
        Arrival(
            site.tenant_id,
            event_identifier(request.get_data()),
            body["webhookEvent"],
            json.dumps(body, separators=(",", ":")),
            installation_id=site.installation_id,
        )
    )


@forge.post("/forge/scheduled")
@forge_invocation(look=True)
def scheduled() -> ResponseReturnValue:
    """The hourly trigger: its token (kept by the decorator) wakes waiting work."""
    return "", 204


@forge.get("/forge/issue-panel")
@forge_invocation()
def issue_panel() -> ResponseReturnValue:
    """The issue panel's data: the mirrors of the issue the invocation token names
    (``context.extension.issue``, which Forge fills in, never the query's issue)."""
    issue_id = invocation_issue_id(g.invocation.claims)
    if issue_id is None:
        response = jsonify(
            error="Bad Request", message="the invocation names no issue: open it on an issue"
        )
        response.status_code = 400
        return response
    issue = IssueRef(g.forge.installation_id, issue_id, None)
    mirrors = issue_mirrors(runtime().db, g.forge.tenant_id, issue)
    return jsonify(mirrors=[mirror.as_json() for mirror in mirrors])


def invocation_issue_id(claims: dict[str, Any]) -> str | None:
    """The id of the issue a UI module's invocation is on, or None."""
    context = claims.get("context")
    extension = context.get("extension") if isinstance(context, dict) else None
    issue = extension.get("issue") if isinstance(extension, dict) else None
    issue_id = issue.get("id") if isinstance(issue, dict) else None
    return str(issue_id) if isinstance(issue_id, str | int) and str(issue_id).isdigit() else None


@forge.get("/forge/admin")
@forge_invocation()
def admin_page() -> ResponseReturnValue:
    """The Forge admin page's data: the workspace's integrations and where each stands
    (Jira shows admin pages to Jira administrators only; changes are made on Tandem's
    admin pages, which check roles)."""
    summaries = list_integrations(runtime(), g.forge.tenant_id)
    return jsonify(
        integrations=[
            {
                "id": str(summary.id),
                "name": summary.name,
                "source": f"{summary.source_site} {summary.source_project}",
                "target": f"{summary.target_site} {summary.target_project}",
                "direction": summary.direction,
                "enabled": summary.enabled,
                "paused_reason": summary.paused_reason,
                "backfill": summary.backfill.as_json(),
            }
            for summary in summaries
        ]
    )
