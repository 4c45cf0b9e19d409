"""Who hears about the workspace: its contact address, and ``workspace_recipients``.

The contact address (``tenants.contact_email``) receives the workspace notices (deletion
scheduled, cancelled, done). Setting it is audited as ``workspace.contact_email`` with
"set" or "cleared", never the address.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from mailer.addresses import check_address
from models.audit import record_audit
from models.tenants import Tenant

FIELD = "contact_email"
# Runs under RLS with app.tenant_id set, so it sees the one tenant's row; the sweeper
# runs it as the maintenance role, which may read tenants.contact_email (migration 0008).
CONTACT = "SELECT contact_email FROM tenants WHERE id = (SELECT app_current_tenant())"


def set_contact_email(session: Session, email: str | None, actor: str) -> str | None:
    """Set (or, with None or "", clear) the session tenant's contact address; the stored
    value. A malformed address raises ValueError with a plain message (answer 400)."""
    address = check_address(email, FIELD) if email not in (None, "") else None
    tenant = session.get(Tenant, session.info["tenant_id"])
    if tenant is None:
        raise LookupError("the session's tenant has no tenants row")
    if tenant.contact_email == address:
        return address
    tenant.contact_email = address
    session.flush()
    record_audit(
        session,
        tenant.id,
        actor,
        "workspace.contact_email",
        None,
        change="set" if address else "cleared",
    )
    return address


def workspace_recipients(connection: Session | Connection) -> tuple[str, ...]:
    """Every address that workspace notices go to, for the tenant bound to ``connection``
    (a tenant session, or the sweeper's maintenance connection with app.tenant_id set).

    Today: the contact address. This is the one place to add more (the workspace owners
    of the dashboard accounts); whatever it reads, the maintenance role must be allowed
    to read too, since the sweeper calls it just before deleting the workspace."""
    contact = connection.execute(text(CONTACT)).scalar_one_or_none()
    return (contact,) if contact else ()
