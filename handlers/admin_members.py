"""Admin pages: members and roles. Dashboard accounts are invited by email (they choose a
password from the emailed link); Jira users are given a role by their Atlassian account
id. Roles change and members go within the granting rules (auth/memberships.py,
auth/member_changes.py), and the workspace always keeps an owner.

Inside Jira, while the workspace has no owner yet, a confirmed Jira admin may invite its
first owner (the ``bootstrap`` rule), and nothing else.
"""

from __future__ import annotations

import uuid

from flask import request
from flask.typing import ResponseReturnValue

from auth.email_keys import InvalidEmail
from auth.invitations import InvitationRefused, invite
from auth.member_changes import change_role, remove_member
from auth.memberships import (
    MembershipRefused,
    check_grant,
    list_members,
    set_jira_member_role,
)
from auth.roles import ROLE_ORDER, principal
from handlers.admin_pages import admin_route, back_to, form_value, render
from handlers.session_cookie import account_service


def _page(errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    who = principal()
    found = list_members(account_service(), who.tenant_id)
    return render(
        "admin/members.html",
        status,
        title="Members and roles",
        members=found,
        has_owner=any(m.role == "owner" for m in found),
        roles=list(reversed(ROLE_ORDER)),
        grantable=[r for r in reversed(ROLE_ORDER) if _may_grant(r)],
        errors=errors or {},
        form=request.form,
    )


def _may_grant(role: str) -> bool:
    try:
        check_grant(principal().granting_role, role)
    except MembershipRefused:
        return False
    return True


@admin_route("/members")
def members() -> ResponseReturnValue:
    return _page()


@admin_route("/members/invite", role="admin", methods=("POST",), bootstrap=True)
def invite_member() -> ResponseReturnValue:
    who = principal()
    role = form_value("role", 20)
    try:
        if who.bootstrap and role != "owner":
            raise MembershipRefused("invite the workspace's first owner first", 403)
        granted = check_grant(who.granting_role, role)
        invite(account_service(), who.tenant_id, form_value("email", 320), granted, who.actor)
    except MembershipRefused as error:
        return _page({"invite_role": str(error)}, error.status)
    except (InvalidEmail, InvitationRefused) as error:
        return _page({"invite_email": str(error)}, 400)
    return back_to("/members", "member-invited")


@admin_route("/members/jira", role="admin", methods=("POST",))
def add_jira_member() -> ResponseReturnValue:
    who = principal()
    try:
        set_jira_member_role(
            account_service(),
            who.tenant_id,
            form_value("atlassian_account_id", 200),
            form_value("role", 20),
            who.actor,
            who.role,
        )
    except MembershipRefused as error:
        field = (
            "jira_account" if error.status == 400 and "account id" in str(error) else "jira_role"
        )
        return _page({field: str(error)}, error.status)
    return back_to("/members", "member-added")


@admin_route("/members/<uuid:membership_id>/role", role="admin", methods=("POST",))
def set_role(membership_id: uuid.UUID) -> ResponseReturnValue:
    who = principal()
    try:
        change_role(
            account_service(),
            who.tenant_id,
            membership_id,
            form_value("role", 20),
            who.actor,
            who.role,
        )
    except MembershipRefused as error:
        return _page({f"role-{membership_id}": str(error)}, error.status)
    return back_to("/members", "member-role")


@admin_route("/members/<uuid:membership_id>/remove", role="admin", methods=("POST",))
def remove(membership_id: uuid.UUID) -> ResponseReturnValue:
    who = principal()
    try:
        remove_member(account_service(), who.tenant_id, membership_id, who.actor, who.role)
    except MembershipRefused as error:
        return _page({f"role-{membership_id}": str(error)}, error.status)
    return back_to("/members", "member-removed")
