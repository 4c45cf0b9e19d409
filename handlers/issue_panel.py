"""The issue panel Jira shows beside an issue: its mirrors, their last sync and its
outcome, the last error in plain words, and "Sync now" / "Unlink" for those allowed.

Every route is authenticated by the Connect context JWT (``context-qsh``) and checked
by role (auth/roles.py, surface ``jira``: the user is the token's ``sub``, a viewer
unless made a member): the page by the ``?jwt=`` Jira loads the iframe with, its JSON
calls by ``Authorization: JWT`` (a fresh token from ``AP.context.getToken()`` inside
Jira, else the page's own). Any user of the site may look; "Sync now" needs a member,
"Unlink" (which cannot be undone from here) an admin. The issue is always the token's
context issue (a token for one issue cannot read or change another; a token naming no
issue reads none, whatever the query names).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Blueprint, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from auth.roles import at_least, principal, requires_role
from compliance.unlink import unlink_issues
from handlers.connect_auth import runtime
from handlers.security_headers import iframe_route
from jira.errors import JiraError
from sync.issue_state import IssueRef, issue_mirrors
from sync.link_requests import LinkNotFound, LinkRefused, request_link_sync

issue_panel = Blueprint("issue_panel", __name__)
PANEL = "/connect/issue-panel"
ISSUE_ID = re.compile(r"[0-9]{1,20}")
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,254}-[0-9]{1,20}")
PANEL_ACTIONS = {"sync": "member", "unlink": "admin"}  # the role each button needs


class BadIssue(ValueError):
    """The request names no usable issue; the message says why."""


def _refusal(status: int, message: str) -> ResponseReturnValue:
    names = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    response = jsonify(error=names.get(status, "Error"), message=message)
    response.status_code = status
    return response


def _token_issue(claims: dict[str, Any]) -> dict[str, Any]:
    context = claims.get("context")
    jira = context.get("jira") if isinstance(context, dict) else None
    issue = jira.get("issue") if isinstance(jira, dict) else None
    return issue if isinstance(issue, dict) else {}


def panel_issue() -> IssueRef | None:
    """The issue this request is about; None when it names none. BadIssue for a
    malformed id or key, or one that is not the token's issue."""
    asked_id, asked_key = request.args.get("issueId"), request.args.get("issueKey")
    if asked_id and not ISSUE_ID.fullmatch(asked_id):
        raise BadIssue("issueId must be a Jira issue id (digits)")
    if asked_key and not ISSUE_KEY.fullmatch(asked_key):
        raise BadIssue("issueKey must be a Jira issue key such as ALP-1")
    token_id = _token_issue(g.connect_claims).get("id")
    if token_id is None:
        # Jira names the issue in every issue panel's token; a token naming none must not
        # read whichever issue the query names.
        return None
    if asked_id and asked_id != str(token_id):
        raise BadIssue("the token is for another issue")
    return IssueRef(g.connect.installation_id, str(token_id), None)


def _permissions() -> dict[str, bool]:
    """Which buttons the caller may press (the POST routes check the same roles)."""
    return {action: at_least(principal().role, role) for action, role in PANEL_ACTIONS.items()}


@issue_panel.get(PANEL)
@iframe_route
@requires_role("viewer", surface="jira")
def page() -> ResponseReturnValue:
    """The panel's HTML, complete on first paint; static/issue-panel.js keeps it fresh."""
    try:
        issue = panel_issue()
    except BadIssue as error:
        return render_template("issue_panel.html", problem=str(error)), 400
    if issue is None:
        problem = "Open this panel from an issue: Jira names the issue it shows."
        return render_template("issue_panel.html", problem=problem)
    mirrors = issue_mirrors(runtime().db, g.connect.tenant_id, issue)
    query = f"issueId={issue.issue_id}" if issue.issue_id else f"issueKey={issue.issue_key}"
    return render_template(
        "issue_panel.html",
        mirrors=mirrors,
        issue_label=request.args.get("issueKey") or issue.issue_key or "",
        issue_query=query,
        page_token=request.args.get("jwt", ""),
        allowed=_permissions(),
    )


def _issue_or_refusal() -> IssueRef | ResponseReturnValue:
    try:
        issue = panel_issue()
    except BadIssue as error:
        return _refusal(400, str(error))
    if issue is None:
        return _refusal(400, "name the issue: issueId (or issueKey)")
    return issue


@issue_panel.get(f"{PANEL}/state")
@requires_role("viewer", surface="jira")
def state() -> ResponseReturnValue:
    """The panel's data as JSON (what the page polls)."""
    issue = _issue_or_refusal()
    if not isinstance(issue, IssueRef):
        return issue
    mirrors = issue_mirrors(runtime().db, g.connect.tenant_id, issue)
    return jsonify(mirrors=[m.as_json() for m in mirrors], allowed=_permissions())


def _link_action(action: str, link_id: uuid.UUID) -> ResponseReturnValue:
    issue = _issue_or_refusal()
    if not isinstance(issue, IssueRef):
        return issue
    rt, tenant_id, actor = runtime(), g.connect.tenant_id, principal().actor
    try:
        if action == "sync":
            queued = request_link_sync(rt, tenant_id, issue, link_id, actor)
            message = "Sync requested." if queued else "A sync was already queued."
            return jsonify(queued=queued, message=message), 202
        result = unlink_issues(rt, tenant_id, issue, link_id, actor)
    except LinkNotFound as error:
        return _refusal(404, str(error))
    except LinkRefused as error:
        return _refusal(409, str(error))
    except JiraError:
        response = jsonify(
            error="Bad Gateway",
            message="Jira could not be reached to remove Tandem's marks; nothing was "
            "unlinked. Try again.",
        )
        response.status_code = 502
        return response
    return jsonify(unlinked=True, message="Unlinked; Tandem's marks were removed.", **result)


@issue_panel.post(f"{PANEL}/links/<uuid:link_id>/sync")
@requires_role(PANEL_ACTIONS["sync"], surface="jira")
def sync_now(link_id: uuid.UUID) -> ResponseReturnValue:
    """Queue a reconcile of the link (audited)."""
    return _link_action("sync", link_id)


@issue_panel.post(f"{PANEL}/links/<uuid:link_id>/unlink")
@requires_role(PANEL_ACTIONS["unlink"], surface="jira")
def unlink(link_id: uuid.UUID) -> ResponseReturnValue:
    """Unlink the pair and remove Tandem's marks from both issues (audited)."""
    return _link_action("unlink", link_id)
