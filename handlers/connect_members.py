"""In-Jira administration (the admin page's API): Jira users reach it by their Atlassian
account id (the iframe's context JWT); every route also confirms Jira administrator
rights with the site itself.

``POST /connect/owner-invitation`` is how a workspace created by a Connect install gets
its first dashboard owner: while the workspace has no owner, any confirmed Jira admin
may send it; afterwards only an owner may (and must be a Jira admin too).
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from auth.memberships import list_members
from auth.roles import principal, requires_role
from handlers.members import assign_jira_role, send_invitation
from handlers.session_cookie import account_service

connect_members = Blueprint("connect_members", __name__, url_prefix="/connect")


@connect_members.get("/members")
@requires_role("admin", surface="jira", jira_admin=True)  # it lists dashboard addresses
def list_all() -> ResponseReturnValue:
    found = list_members(account_service(), principal().tenant_id)
    return jsonify(members=[asdict(member) for member in found])


@connect_members.post("/owner-invitation")
@requires_role("owner", surface="jira", jira_admin=True, bootstrap=True)
def invite_owner() -> ResponseReturnValue:
    # While there is no owner, the confirmed Jira admin acts with the owner's grant.
    return send_invitation("owner")


@connect_members.put("/members/<atlassian_account_id>")
@requires_role("admin", surface="jira", jira_admin=True)
def set_role(atlassian_account_id: str) -> ResponseReturnValue:
    return assign_jira_role(atlassian_account_id)
