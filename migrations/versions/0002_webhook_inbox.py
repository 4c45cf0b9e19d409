"""Webhook inbox and deletion requests.

webhook_events is the durable inbox: a row is committed before a webhook is
acknowledged, keyed by (tenant, X-Atlassian-Webhook-Identifier). The maintenance role
may list pending rows across tenants (ids and times only) so the sweeper can enqueue
them; it never reads payloads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from migrations.columns import tenant_id_column
from migrations.rls import (
    enable_tenant_rls,
    grant_app,
    grant_maintenance,
    maintenance_sees_all,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        tenant_id_column(),
        sa.Column("installation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("identifier", sa.Text, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("job_runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "identifier"),
        sa.CheckConstraint(
            "status IN ('pending', 'processed', 'skipped', 'failed')", name="status"
        ),
        sa.ForeignKeyConstraint(
            ["installation_id", "tenant_id"],
            ["installations.id", "installations.tenant_id"],
            ondelete="CASCADE",
        ),
    )
    op.create_index(None, "webhook_events", ["tenant_id", "received_at"])
    # The sweeper's cross-tenant scan of pending rows (small: finished rows drop out).
    op.create_index(
        "ix_webhook_events_pending",
        "webhook_events",
        ["received_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    enable_tenant_rls("webhook_events")
    maintenance_sees_all("webhook_events")
    grant_app("webhook_events", "SELECT, INSERT, UPDATE")
    grant_maintenance("webhook_events", "SELECT (id, tenant_id, status, received_at)")

    op.create_table(
        "deletion_requests",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        tenant_id_column(),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="scheduled"),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("delete_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled', 'done')", name="status"),
    )
    op.create_index(None, "deletion_requests", ["tenant_id", "status"])
    enable_tenant_rls("deletion_requests")
    grant_app("deletion_requests", "SELECT, INSERT, UPDATE")


def downgrade() -> None:
    op.drop_table("deletion_requests")
    op.drop_table("webhook_events")
