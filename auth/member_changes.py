"""Changing a member's role and removing a member, as the members page does: checked
against the actor's role (admins grant up to admin; only an owner changes or removes an
owner), never leaving the workspace without an owner, and audited.

The owners' membership rows are locked (``FOR UPDATE``) before one is demoted or
removed, so two admins acting at once cannot both take away "the other" last owner.
Removing a dashboard account deletes it (address, password hash, tokens, directory
entry; its data key is destroyed) and ends its sessions; removing a Jira user deletes
the membership (the user is a plain viewer again).
"""

from __future__ import annotations

import contextlib
import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from auth.accounts import AccountService
from auth.memberships import MembershipRefused, check_grant
from keys.data_keys import DataKeyGone
from models.accounts import ACCOUNT_EMAIL, Account, AccountToken, Membership
from models.audit import record_audit
from models.tenants import DirectoryEntry

LAST_OWNER = (
    "the workspace must keep an owner: make another member owner first, then change this one"
)


def _member(session: Session, membership_id: uuid.UUID, actor_role: str) -> Membership:
    membership = session.get(Membership, membership_id, with_for_update=True)
    if membership is None:
        raise MembershipRefused("no such member in this workspace", 404)
    if membership.role == "owner" and actor_role != "owner":
        raise MembershipRefused("only an owner changes or removes an owner", 403)
    return membership


def _keep_an_owner(session: Session, leaving: Membership) -> None:
    owners = session.execute(
        select(Membership.id).where(Membership.role == "owner").with_for_update()
    ).scalars()
    if set(owners) <= {leaving.id}:
        raise MembershipRefused(LAST_OWNER, 409)


def subject_of(membership: Membership) -> str:
    """How audit rows name a member."""
    if membership.account_id is not None:
        return f"account:{membership.account_id}"
    return f"jira:{membership.atlassian_account_id}"


def change_role(
    service: AccountService,
    tenant_id: uuid.UUID,
    membership_id: uuid.UUID,
    role: object,
    actor: str,
    actor_role: str,
) -> str:
    """Give the member ``role``; the role it had. MembershipRefused (with the status to
    answer) when not allowed or when it would leave no owner."""
    granted = check_grant(actor_role, role)
    with service.runtime.db.tenant_session(tenant_id) as session:
        membership = _member(session, membership_id, actor_role)
        previous = membership.role
        if previous == granted:
            return previous
        if previous == "owner":
            _keep_an_owner(session, membership)
        membership.role, membership.granted_by = granted, actor
        session.flush()
        record_audit(
            session,
            tenant_id,
            actor,
            "member.role_changed",
            subject=subject_of(membership),
            role=granted,
            previous_role=previous,
        )
    return previous


def remove_member(
    service: AccountService,
    tenant_id: uuid.UUID,
    membership_id: uuid.UUID,
    actor: str,
    actor_role: str,
) -> None:
    """Remove the member (see the module docstring); MembershipRefused when not allowed
    or when it is the last owner."""
    if actor_role not in ("admin", "owner"):
        raise MembershipRefused("removing members needs the admin role", 403)
    with service.runtime.db.tenant_session(tenant_id) as session:
        membership = _member(session, membership_id, actor_role)
        if membership.role == "owner":
            _keep_an_owner(session, membership)
        subject, account_id = subject_of(membership), membership.account_id
        session.delete(membership)
        session.flush()
        if account_id is not None:
            _delete_account(service, session, account_id)
        record_audit(
            session, tenant_id, actor, "member.removed", subject=subject, role=membership.role
        )
    if account_id is not None:
        service.sessions.end_all(account_id)


def _delete_account(service: AccountService, session: Session, account_id: uuid.UUID) -> None:
    account = session.get(Account, account_id, with_for_update=True)
    if account is None:
        return
    session.execute(delete(AccountToken).where(AccountToken.account_id == account_id))
    session.execute(
        delete(DirectoryEntry).where(
            DirectoryEntry.kind == ACCOUNT_EMAIL, DirectoryEntry.key == account.email_key
        )
    )
    key_id = account.data_key_id
    session.delete(account)
    session.flush()
    if key_id is not None:
        with contextlib.suppress(DataKeyGone):  # already destroyed
            service.runtime.keys.destroy(session, key_id)
