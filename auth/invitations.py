"""Invitations: an admin (or, for the first owner, a Jira admin or an operator) invites
an address with a role; the invitee accepts with the emailed link and chooses a password,
which creates the account, its directory entry and its membership.

An address has an account in at most one workspace (the directory maps its keyed hash to
one tenant). Accepting an invitation for an address that already has an account elsewhere
is refused, and only the invitee (who holds the link) learns why; the inviting admin sees
"invitation sent" either way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from auth.account_tokens import parse_token
from auth.accounts import AccountService
from auth.email_keys import normalise_email
from auth.notices import invitation_link
from auth.passwords import check_new_password
from auth.token_use import INVITATION_LIFETIME, TokenRefused, issue, redeem
from models.accounts import ACCOUNT_EMAIL, ROLES, Account, Membership
from models.audit import record_audit
from models.tenants import register_directory_key


class InvitationRefused(ValueError):
    """The invitation cannot be made or accepted; the message is safe to show."""


@dataclass(frozen=True)
class Accepted:
    tenant_id: uuid.UUID
    account_id: uuid.UUID
    role: str


def create_invitation(
    service: AccountService, tenant_id: uuid.UUID, raw_email: object, role: object, actor: str
) -> tuple[str, uuid.UUID, str]:
    """Store an invitation and audit it; (the token for the link, its id, the address)."""
    email = normalise_email(raw_email)
    if role not in ROLES:
        raise InvitationRefused(f"role must be one of {', '.join(ROLES)}")
    with service.runtime.db.tenant_session(tenant_id) as session:
        token, row = issue(
            service, session, "invitation", INVITATION_LIFETIME, actor, email=email, role=role
        )
        record_audit(session, tenant_id, actor, "account.invited", subject=str(row.id), role=role)
    return token, row.id, email


def invite(
    service: AccountService, tenant_id: uuid.UUID, raw_email: object, role: object, actor: str
) -> uuid.UUID:
    """Create an invitation and email its link; returns the invitation id."""
    token, invitation_id, email = create_invitation(service, tenant_id, raw_email, role, actor)
    invitation_link(service, email, token, str(role), INVITATION_LIFETIME.days)
    return invitation_id


def accept(service: AccountService, raw_token: object, password: object) -> Accepted:
    """Redeem an invitation: the account with its password, directory entry and role."""
    parsed = parse_token(raw_token)
    db = service.runtime.db
    try:
        with db.tenant_session(parsed.tenant_id) as session:
            row = redeem(service, session, parsed, "invitation")
            email = str(row.email)
            check_new_password(password, email)
            key = service.email_key(email)
            account = Account(
                id=uuid.uuid4(),
                tenant_id=parsed.tenant_id,
                email=email,
                email_key=key,
                password_hash=service.passwords.hash(str(password)),
                password_changed_at=service.now(),
            )
            session.add(account)
            session.flush()
            register_directory_key(session, ACCOUNT_EMAIL, key)
            session.add(
                Membership(
                    tenant_id=parsed.tenant_id,
                    account_id=account.id,
                    role=row.role,
                    granted_by=row.created_by,
                )
            )
            session.flush()
            record_audit(
                session,
                parsed.tenant_id,
                f"account:{account.id}",
                "account.created",
                subject=str(account.id),
                invitation=str(row.id),
                role=row.role,
            )
            return Accepted(parsed.tenant_id, account.id, str(row.role))
    except IntegrityError:
        raise InvitationRefused(
            "this email address already has a Tandem account (in this or another "
            "workspace); ask for an invitation to another address"
        ) from None


__all__ = ["Accepted", "InvitationRefused", "TokenRefused", "accept", "create_invitation", "invite"]
