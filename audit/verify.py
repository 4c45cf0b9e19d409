"""Walk each tenant's audit chain, day by day, and name the first row that breaks it.

Runs as the maintenance role: it lists tenants (its inventory policy on ``tenants``) and
reads each tenant's ``audit_events`` with that tenant set in its transaction, as RLS asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, text

from models import audit_chain

_ROWS = text(
    "SELECT id, segment, occurred_at, actor, action, subject, details, prev_hash, row_hash "
    "FROM audit_events WHERE tenant_id = CAST(:tenant AS uuid) ORDER BY segment, id"
)
_BY_HASH = text(
    "SELECT id FROM audit_events WHERE tenant_id = CAST(:tenant AS uuid) AND row_hash = :hash "
    "ORDER BY id LIMIT 1"
)


@dataclass(frozen=True)
class ChainReport:
    """The outcome for one tenant: ``broken_id`` is None when the whole chain holds."""

    tenant_id: uuid.UUID
    rows: int
    days: int
    broken_id: int | None = None
    reason: str | None = None
    head: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None

    def line(self) -> str:
        """One line for the operator."""
        if not self.ok:
            return f"{self.tenant_id} BROKEN at row {self.broken_id}: {self.reason}"
        if self.rows == 0:
            return f"{self.tenant_id} ok: no audit rows"
        head = self.head.hex() if self.head else ""
        rows = f"{self.rows} row{'s' if self.rows != 1 else ''}"
        days = f"{self.days} day{'s' if self.days != 1 else ''}"
        return f"{self.tenant_id} ok: {rows} in {days}, head {head}"


def _broken_link(connection: Connection, tenant: uuid.UUID, prev: bytes, before: int | None) -> str:
    """Why a row whose own hash holds does not follow the row before it."""
    found = connection.execute(_BY_HASH, {"tenant": str(tenant), "hash": prev}).scalar()
    if found is not None:
        after = f"row {before}" if before is not None else "the day's start"
        return f"reordered: it follows row {found}, not {after}"
    if before is None:
        return "removed before it: the day's first rows are missing"
    return f"removed before it: the row it follows (after row {before}) is missing"


def verify_tenant(connection: Connection, tenant: uuid.UUID) -> ChainReport:
    """Recompute every hash of one tenant's trail (the tenant is set on ``connection``)."""
    connection.execute(
        text("SELECT set_config('app.tenant_id', :tenant, true)"), {"tenant": str(tenant)}
    )
    rows = connection.execution_options(yield_per=1000).execute(_ROWS, {"tenant": str(tenant)})
    count, days = 0, 0
    segment: date | None = None
    expected = b""
    before: int | None = None
    for row_id, day, at, actor, action, subject, details, prev, stored in rows:
        prev, stored = bytes(prev), bytes(stored)
        if day != segment:
            segment, before, days = day, None, days + 1
            expected = audit_chain.genesis_hash(tenant, day)
        count += 1
        digest = audit_chain.row_hash(tenant, prev, at, actor, action, subject, details)
        if digest != stored or audit_chain.segment_of(at) != day:
            return ChainReport(tenant, count, days, row_id, "edited: its contents or hash changed")
        if prev != expected:
            rows.close()
            return ChainReport(
                tenant, count, days, row_id, _broken_link(connection, tenant, prev, before)
            )
        expected, before = stored, row_id
    return ChainReport(tenant, count, days, head=expected or None)


def tenant_ids(engine: Engine) -> list[uuid.UUID]:
    """Every tenant, in a stable order."""
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM tenants ORDER BY id")).scalars())


def verify(engine: Engine, tenant: uuid.UUID | None = None) -> Iterator[ChainReport]:
    """One report per tenant (or for ``tenant`` only), each in its own transaction."""
    for tenant_id in [tenant] if tenant is not None else tenant_ids(engine):
        with engine.begin() as connection:
            yield verify_tenant(connection, tenant_id)
