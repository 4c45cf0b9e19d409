"""OAuth-connected sites: token groups, dynamic webhooks, and inbox rows from connections.

- connections.token_group: connections created by one consent share one token pair (one
  rotating refresh token), so a refresh locks and rewrites the whole group at once.
- connections.webhook_ids / webhook_jql / webhooks_expire_at: the Jira dynamic webhooks
  Tandem registered on the connected site, the JQL they filter on, and when they expire.
- webhook_events: a row comes from an installation (Connect) or from a connection (a
  dynamic webhook), exactly one of the two, each by a composite foreign key.

The tables keep their RLS (ENABLE + FORCE + tenant policy) and grants from 0001/0002.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from migrations.columns import time_column, uuid_column

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("connections", uuid_column("token_group"))
    op.add_column(
        "connections",
        sa.Column("webhook_ids", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("connections", sa.Column("webhook_jql", sa.Text))
    op.add_column("connections", time_column("webhooks_expire_at", nullable=True))
    op.create_index(None, "connections", ["tenant_id", "token_group"])

    op.alter_column("webhook_events", "installation_id", nullable=True)
    op.add_column("webhook_events", uuid_column("connection_id"))
    op.create_foreign_key(
        None,
        "webhook_events",
        "connections",
        ["connection_id", "tenant_id"],
        ["id", "tenant_id"],
        ondelete="CASCADE",
    )
    op.create_check_constraint(
        "one_sender",
        "webhook_events",
        "(installation_id IS NULL) <> (connection_id IS NULL)",
    )


def downgrade() -> None:
    op.execute("DELETE FROM webhook_events WHERE connection_id IS NOT NULL")
    op.drop_constraint("ck_webhook_events_one_sender", "webhook_events", type_="check")
    op.drop_constraint(
        "fk_webhook_events_connection_id_tenant_id", "webhook_events", type_="foreignkey"
    )
    op.drop_column("webhook_events", "connection_id")
    op.alter_column("webhook_events", "installation_id", nullable=False)
    op.drop_index("ix_connections_tenant_id_token_group", "connections")
    for column in ("webhooks_expire_at", "webhook_jql", "webhook_ids", "token_group"):
        op.drop_column("connections", column)
