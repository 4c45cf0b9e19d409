"""Resolve the caller of a role-checked route (auth/roles.py) from its credentials."""

from __future__ import annotations

import re

from flask import Response, g, request

from auth.accounts import has_owner, membership_of_account, membership_of_jira_user
from auth.errors import ConnectAuthError
from auth.jira_admin import JiraUnavailable, is_jira_admin
from auth.roles import Principal, RouteRule, at_least
from handlers.connect_auth import unauthorized, verify_connect
from handlers.session_cookie import account_service, current_session, refuse
from models.installations import Installation

ATLASSIAN_ACCOUNT_ID = re.compile(r"[A-Za-z0-9:_-]{1,128}")


def resolve(rule: RouteRule, unsafe: bool) -> Response | None:
    """Set ``g.principal`` and return None, or return the refusal."""
    if rule.surface == "jira":
        return _jira_user(rule)
    return _dashboard_account(rule, unsafe)


def _dashboard_account(rule: RouteRule, unsafe: bool) -> Response | None:
    record = current_session()
    if record is None:
        return refuse(401, "sign in first")
    if unsafe:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
        if not record.csrf_matches(sent):
            return refuse(403, "the CSRF token is missing or wrong: reload the page")
    service = account_service()
    with service.runtime.db.tenant_session(record.tenant_id) as session:
        membership = membership_of_account(session, record.account_id)
        role = membership.role if membership is not None else None
    if role is None:
        service.sessions.end(record)
        return refuse(401, "this account is no longer a member of the workspace")
    if not at_least(role, rule.role):
        return refuse(403, f"this needs the {rule.role} role; you are {role}")
    g.session_record = record
    g.principal = Principal(
        record.tenant_id, role, f"account:{record.account_id}", account_id=record.account_id
    )
    return None


def _jira_user(rule: RouteRule) -> Response | None:
    try:
        installation, claims = verify_connect(context_qsh=True)
    except ConnectAuthError as error:
        return unauthorized(str(error))
    user = claims.get("sub")
    if not isinstance(user, str) or not ATLASSIAN_ACCOUNT_ID.fullmatch(user):
        return unauthorized("the token names no Jira user ('sub')")
    service = account_service()
    with service.runtime.db.tenant_session(installation.tenant_id) as session:
        membership = membership_of_jira_user(session, user)
        role = membership.role if membership is not None else "viewer"
        bootstrapping = rule.bootstrap and not has_owner(session)
        site = session.get(Installation, installation.installation_id)
        base_url = site.base_url if site is not None else ""
    if not bootstrapping and not at_least(role, rule.role):
        return refuse(403, f"this needs the {rule.role} role in Tandem; you are {role}")
    if rule.jira_admin or bootstrapping:
        try:
            admin = is_jira_admin(
                service.runtime,
                installation.installation_id,
                base_url,
                installation.shared_secret,
                user,
            )
        except JiraUnavailable as error:
            return refuse(503, str(error))
        if not admin:
            return refuse(403, "this page needs Jira administrator rights")
    g.connect = installation
    g.principal = Principal(
        installation.tenant_id,
        role,
        f"jira:{user}",
        atlassian_account_id=user,
        bootstrap=bootstrapping,
    )
    return None
