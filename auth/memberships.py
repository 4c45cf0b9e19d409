"""Workspace administration: who holds which role, role changes, unlocking accounts.

Every change is checked against the actor's role (``may_grant``: admins grant up to admin,
only an owner grants or changes owner) and audited.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.accounts import AccountService, membership_of_account, membership_of_jira_user
from auth.login import unlock
from auth.roles import ROLE_ORDER, may_grant
from models.accounts import Account, Membership
from models.audit import record_audit

ATLASSIAN_ACCOUNT_ID = re.compile(r"[A-Za-z0-9:_-]{1,128}")


class MembershipRefused(ValueError):
    """Not allowed or not possible; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MemberView:
    """One member as the admin pages list it."""

    id: str
    kind: str  # "account" or "jira"
    role: str
    email: str | None
    atlassian_account_id: str | None
    locked: bool


def list_members(service: AccountService, tenant_id: uuid.UUID) -> list[MemberView]:
    """Every member of the workspace, owners first."""
    with service.runtime.db.tenant_session(tenant_id) as session:
        rows = session.execute(
            select(Membership, Account)
            .outerjoin(Account, Account.id == Membership.account_id)
            .order_by(Membership.created_at)
        ).all()
        members = [
            MemberView(
                id=str(m.id),
                kind="account" if m.account_id else "jira",
                role=m.role,
                email=a.email if a is not None else None,
                atlassian_account_id=m.atlassian_account_id,
                locked=bool(a is not None and service.is_locked(a)),
            )
            for m, a in rows
        ]
    return sorted(members, key=lambda m: -ROLE_ORDER.index(m.role))


def check_grant(actor_role: str, role: object) -> str:
    if role not in ROLE_ORDER:
        raise MembershipRefused(f"role must be one of {', '.join(reversed(ROLE_ORDER))}")
    if not may_grant(actor_role, str(role)):
        raise MembershipRefused(f"a {actor_role} cannot grant the {role} role", 403)
    return str(role)


def _apply_role(
    session: Session,
    membership: Membership,
    previous: str | None,
    granted: str,
    actor: str,
    actor_role: str,
    subject: str,
) -> None:
    """Set a membership's role: only an owner changes an owner, the last owner stays."""
    if previous == "owner" and actor_role != "owner":
        raise MembershipRefused("only an owner changes an owner's role", 403)
    if previous == "owner" and granted != "owner":
        owners = session.execute(
            select(func.count()).select_from(Membership).where(Membership.role == "owner")
        ).scalar_one()
        if owners <= 1:
            raise MembershipRefused("the workspace's last owner keeps the owner role", 409)
    membership.role, membership.granted_by = granted, actor
    session.flush()
    record_audit(
        session,
        membership.tenant_id,
        actor,
        "member.role_set",
        subject=subject,
        role=granted,
        previous_role=previous,
    )


def set_jira_member_role(
    service: AccountService,
    tenant_id: uuid.UUID,
    atlassian_account_id: str,
    role: object,
    actor: str,
    actor_role: str,
) -> None:
    """Give a Jira user (by Atlassian account id) a role in the workspace."""
    if not ATLASSIAN_ACCOUNT_ID.fullmatch(atlassian_account_id):
        raise MembershipRefused("that is not an Atlassian account id")
    granted = check_grant(actor_role, role)
    with service.runtime.db.tenant_session(tenant_id) as session:
        membership = membership_of_jira_user(session, atlassian_account_id)
        previous = membership.role if membership is not None else None
        if membership is None:
            membership = Membership(
                tenant_id=tenant_id, atlassian_account_id=atlassian_account_id, role=granted
            )
            session.add(membership)
        subject = f"jira:{atlassian_account_id}"
        _apply_role(session, membership, previous, granted, actor, actor_role, subject)


def set_account_role(
    service: AccountService,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    role: object,
    actor: str,
    actor_role: str,
) -> None:
    """Change a dashboard account's role in the workspace."""
    granted = check_grant(actor_role, role)
    with service.runtime.db.tenant_session(tenant_id) as session:
        membership = membership_of_account(session, account_id)
        if membership is None:
            raise MembershipRefused("no such account in this workspace", 404)
        subject = f"account:{account_id}"
        _apply_role(session, membership, membership.role, granted, actor, actor_role, subject)


def unlock_account(
    service: AccountService, tenant_id: uuid.UUID, account_id: uuid.UUID, actor: str
) -> bool:
    """An admin ends an account's lock (audited); False when it was not locked."""
    with service.runtime.db.tenant_session(tenant_id) as session:
        account = session.get(Account, account_id, with_for_update=True)
        if account is None:
            raise MembershipRefused("no such account in this workspace", 404)
        return unlock(service, session, account, actor, reason="unlocked by an admin")
