"""Dashboard administration API: members, invitations, role changes, unlocking.

Every route here is role-checked on the server (auth/roles.py) and every change audited.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from auth.email_keys import InvalidEmail
from auth.invitations import InvitationRefused, invite
from auth.memberships import (
    MembershipRefused,
    check_grant,
    list_members,
    set_account_role,
    set_jira_member_role,
    unlock_account,
)
from auth.roles import principal, requires_role
from handlers.auth_api import json_body
from handlers.session_cookie import account_service, refuse

members = Blueprint("members", __name__, url_prefix="/api")


def send_invitation(role: object) -> ResponseReturnValue:
    """Invite the body's address with ``role`` on behalf of the caller."""
    who = principal()
    try:
        granted = check_grant(who.granting_role, role)
        invitation = invite(
            account_service(), who.tenant_id, json_body().get("email"), granted, who.actor
        )
    except MembershipRefused as error:
        return refuse(error.status, str(error))
    except (InvalidEmail, InvitationRefused) as error:
        return refuse(400, str(error))
    return jsonify(invitation_id=str(invitation), message="invitation sent"), 201


@members.get("/members")
@requires_role("viewer")
def list_all() -> ResponseReturnValue:
    found = list_members(account_service(), principal().tenant_id)
    return jsonify(members=[asdict(member) for member in found])


@members.post("/invitations")
@requires_role("admin")
def create_invitation() -> ResponseReturnValue:
    return send_invitation(json_body().get("role"))


@members.post("/accounts/<uuid:account_id>/unlock")
@requires_role("admin")
def unlock(account_id: uuid.UUID) -> ResponseReturnValue:
    who = principal()
    try:
        was_locked = unlock_account(account_service(), who.tenant_id, account_id, who.actor)
    except MembershipRefused as error:
        return refuse(error.status, str(error))
    return jsonify(unlocked=was_locked)


def assign_jira_role(atlassian_account_id: str) -> ResponseReturnValue:
    """Give a Jira user the body's role on behalf of the caller (dashboard or Jira)."""
    who, role = principal(), json_body().get("role")
    try:
        set_jira_member_role(
            account_service(), who.tenant_id, atlassian_account_id, role, who.actor, who.role
        )
    except MembershipRefused as error:
        return refuse(error.status, str(error))
    return jsonify(role=role)


@members.put("/accounts/<uuid:account_id>/role")
@requires_role("admin")
def set_account_role_route(account_id: uuid.UUID) -> ResponseReturnValue:
    who, role = principal(), json_body().get("role")
    try:
        set_account_role(account_service(), who.tenant_id, account_id, role, who.actor, who.role)
    except MembershipRefused as error:
        return refuse(error.status, str(error))
    return jsonify(role=role)


@members.put("/jira-members/<atlassian_account_id>")
@requires_role("admin")
def set_jira_role(atlassian_account_id: str) -> ResponseReturnValue:
    return assign_jira_role(atlassian_account_id)
