"""Tamper-evident audit trail: audit_events rows are hash-chained per (tenant, UTC day).

- segment: the UTC day of occurred_at (a stored generated column, so it cannot disagree).
- prev_hash: the row_hash of the previous row of the same (tenant, segment), or the
  genesis value of that (tenant, day) for its first row (models/audit_chain.py).
- row_hash: SHA-256 over the versioned canonical encoding of the row.
- unique (tenant_id, segment, prev_hash): two rows can never follow the same row, so
  the chain cannot fork even if a writer skipped the advisory lock.

Rows written before this revision are hashed here, in (tenant, segment, id) order. The
owner is subject to FORCE RLS, so FORCE is lifted for the back-fill and restored in the
same transaction (the ALTER holds an ACCESS EXCLUSIVE lock; no one sees the gap). RLS
ENABLE + FORCE, the policy and the grants stay as they were: audit remains append-only
for the app role, and the maintenance role keeps SELECT and DELETE.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models import audit_chain

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SEGMENT_SQL = "(occurred_at AT TIME ZONE 'UTC')::date"


def _backfill() -> None:
    """Chain the rows that predate this revision, day by day, in id order."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT id, tenant_id, occurred_at, actor, action, subject, details "
            "FROM audit_events ORDER BY tenant_id, segment, id"
        )
    )
    tails: dict[tuple[object, object], bytes] = {}
    update = sa.text("UPDATE audit_events SET prev_hash = :prev, row_hash = :row WHERE id = :id")
    for row_id, tenant_id, occurred_at, actor, action, subject, details in rows.all():
        segment = audit_chain.segment_of(occurred_at)
        prev = tails.get((tenant_id, segment)) or audit_chain.genesis_hash(tenant_id, segment)
        document = audit_chain.normalize_details(details)
        digest = audit_chain.row_hash(
            tenant_id, prev, occurred_at, actor, action, subject, document
        )
        connection.execute(update, {"prev": prev, "row": digest, "id": row_id})
        tails[(tenant_id, segment)] = digest


def upgrade() -> None:
    op.add_column(
        "audit_events",
        sa.Column("segment", sa.Date, sa.Computed(SEGMENT_SQL, persisted=True), nullable=False),
    )
    op.add_column("audit_events", sa.Column("prev_hash", sa.LargeBinary))
    op.add_column("audit_events", sa.Column("row_hash", sa.LargeBinary))
    op.execute("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY")
    _backfill()
    op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    op.alter_column("audit_events", "prev_hash", nullable=False)
    op.alter_column("audit_events", "row_hash", nullable=False)
    op.create_check_constraint(
        "hash_lengths",
        "audit_events",
        "octet_length(prev_hash) = 32 AND octet_length(row_hash) = 32",
    )
    op.create_index(None, "audit_events", ["tenant_id", "segment", "id"])
    op.create_index(None, "audit_events", ["tenant_id", "segment", "prev_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_audit_events_tenant_id_segment_prev_hash", "audit_events")
    op.drop_index("ix_audit_events_tenant_id_segment_id", "audit_events")
    op.drop_constraint("ck_audit_events_hash_lengths", "audit_events")
    for column in ("row_hash", "prev_hash", "segment"):
        op.drop_column("audit_events", column)
