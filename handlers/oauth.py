"""Connecting remote sites through Atlassian OAuth 2.0 (3LO): the consent start (opened
from the admin page, so authenticated by its context JWT) and the callback."""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import urlencode

from flask import Blueprint, g, redirect, request
from flask.typing import ResponseReturnValue

from auth.oauth_state import InvalidState, make_state, read_state
from auth.roles import requires_role
from handlers.connect_auth import runtime
from handlers.pages import page
from jira.calls import oauth_scopes
from jira.errors import JiraError, TransientError
from jira.oauth_endpoints import GrantRefused
from sync.oauth_connect import ConsentResult, claim_state, complete_consent

log = logging.getLogger(__name__)
oauth = Blueprint("oauth", __name__)
AUDIENCE = "api.atlassian.com"
MAX_PARAMETER_LENGTH = 2048
START_AGAIN = "Nothing was changed; start again from Tandem's admin page."


def not_ready_reason() -> str | None:
    """Why remote sites cannot be connected on this deployment, or None."""
    settings = runtime().settings
    if not settings.oauth_configured:
        return (
            "Connecting remote sites is not configured on this Tandem: "
            "set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET."
        )
    if not settings.secret_key:
        return "Connecting remote sites needs TANDEM_SECRET_KEY: set it (it signs the OAuth state)."
    return None


@oauth.before_request
def _refuse_when_not_configured() -> ResponseReturnValue | None:
    reason = not_ready_reason()
    if reason is None:
        return None
    response = page("Remote sites are unavailable", [reason], 503)
    response.headers["Retry-After"] = "3600"
    return response


@oauth.get("/connect/oauth/start")
# A consent adds a site to the workspace: only a confirmed Jira admin of the installed
# site may start one (any Tandem role; the admin page's button asks Tandem admin too).
@requires_role("viewer", surface="jira", jira_admin=True)
def start() -> ResponseReturnValue:
    """Send the admin to Atlassian's consent screen, asking exactly the registry's scopes."""
    return consent_redirect(g.connect.tenant_id, g.connect.installation_id)


def consent_redirect(
    tenant_id: uuid.UUID, installation_id: uuid.UUID, code: int = 302
) -> ResponseReturnValue:
    """Redirect to Atlassian's consent screen for a consent that connects the sites it
    reaches to ``tenant_id`` (started through ``installation_id``), with exactly the
    registry's scopes. The admin pages' "Connect a site" uses it too."""
    settings = runtime().settings
    state = make_state(settings.secret_key, tenant_id, installation_id)
    query = urlencode(
        {
            "audience": AUDIENCE,
            "client_id": settings.oauth_client_id,
            "scope": " ".join(oauth_scopes()),
            "redirect_uri": settings.oauth_redirect_url,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
        }
    )
    response = redirect(f"{settings.oauth_authorize_url}?{query}", code)
    response.headers["Cache-Control"] = "no-store"
    return response


@oauth.get("/oauth/callback")
def callback() -> ResponseReturnValue:
    """Atlassian sends the admin back here with ``code`` and ``state`` (or ``error``)."""
    rt = runtime()
    args = request.args
    if "error" in args:
        return page("The site was not connected", [_consent_error(args["error"]), START_AGAIN], 400)
    try:
        consent = read_state(rt.settings.secret_key, args.get("state", ""))
    except InvalidState as error:
        return page("This link cannot connect a site", [f"Refused: {error}.", START_AGAIN], 400)
    code = args.get("code", "")
    if not code or len(code) > MAX_PARAMETER_LENGTH:
        return page("This link cannot connect a site", ["The code is missing.", START_AGAIN], 400)
    if not claim_state(rt, consent):
        return page(
            "This link was already used",
            ["Each consent link connects sites once.", START_AGAIN],
            400,
        )
    try:
        result = complete_consent(rt, consent, code)
    except GrantRefused:
        return page(
            "The site was not connected",
            [
                "Atlassian refused the authorization code (it works once, for a few minutes).",
                START_AGAIN,
            ],
            400,
        )
    except TransientError as error:
        log.warning("oauth callback: %s", error)
        return page("Atlassian is unavailable", [str(error) + ".", START_AGAIN], 502)
    except JiraError as error:
        return page("The site was not connected", [str(error) + ".", START_AGAIN], 400)
    return _connected_page(result)


def _consent_error(code: str) -> str:
    """Our own words for Atlassian's ``error`` (its free text is not echoed: anyone can
    craft a callback link)."""
    if code == "access_denied":
        return "The consent was cancelled: access was denied."
    if re.fullmatch(r"[a-z_]{1,40}", code):
        return f"Atlassian refused the consent request ({code})."
    return "Atlassian refused the consent request."


def _connected_page(result: ConsentResult) -> ResponseReturnValue:
    outcome = result.outcome
    names = ", ".join(site.url for _id, site, _again in outcome.connected)
    lines = [
        f"{'Reconnected' if again else 'Connected'} {site.name} ({site.url})."
        for _id, site, again in outcome.connected
    ]
    if outcome.resumed:
        lines.append(f"Resumed {len(outcome.resumed)} paused integration(s).")
    lines += [f"Not connected: {site.url}: {reason}." for site, reason in outcome.refused]
    if result.missing_scopes:
        lines.append(
            "Tandem was granted fewer permissions than it needs ("
            + ", ".join(result.missing_scopes)
            + "), so some syncing will be refused; reconnect and accept every permission."
        )
    if outcome.connected:
        lines.append(
            "Changes made on a connected site by the account that approved this consent are "
            "treated as Tandem's own and not synced back: use a dedicated integration account."
        )
        lines.append("You can close this window.")
        return page(f"Connected {names}", lines)
    return page("No site was connected", lines or ["Atlassian listed no site."], 400)
