"""Sync engine: integrations, issue/comment/attachment links, the sync_attempts audit,
and sealed raw responses.

sync_attempts is append-only for the app role (one row per attempt, written in its own
transaction); the maintenance role may delete expired attempts and raw responses.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from migrations.columns import scoped_fk, tenant_id_column, time_column, uuid_column
from migrations.rls import enable_tenant_rls, grant_app, grant_maintenance

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _integrations() -> None:
    op.create_table(
        "integrations",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        sa.Column("name", sa.Text, nullable=False),
        uuid_column("source_installation_id"),
        uuid_column("source_connection_id"),
        sa.Column("source_project", sa.Text, nullable=False),
        uuid_column("target_installation_id"),
        uuid_column("target_connection_id"),
        sa.Column("target_project", sa.Text, nullable=False),
        sa.Column("config", JSONB, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused_reason", sa.Text),
        sa.Column("backfill_state", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        time_column("drift_watermark", nullable=True),
        time_column("created_at"),
        time_column("updated_at"),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.CheckConstraint(
            "(source_installation_id IS NULL) <> (source_connection_id IS NULL)", name="one_source"
        ),
        sa.CheckConstraint(
            "(target_installation_id IS NULL) <> (target_connection_id IS NULL)", name="one_target"
        ),
        scoped_fk("source_installation_id", "installations"),
        scoped_fk("source_connection_id", "connections"),
        scoped_fk("target_installation_id", "installations"),
        scoped_fk("target_connection_id", "connections"),
    )
    op.create_index(None, "integrations", ["tenant_id", "enabled"])


def _links() -> None:
    op.create_table(
        "issue_links",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        uuid_column("integration_id", nullable=False),
        sa.Column("source_issue_id", sa.Text, nullable=False),
        sa.Column("source_issue_key", sa.Text, nullable=False),
        sa.Column("target_issue_id", sa.Text, nullable=False),
        sa.Column("target_issue_key", sa.Text, nullable=False),
        sa.Column("field_hashes", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("state", sa.String(16), nullable=False, server_default="active"),
        time_column("last_synced_at", nullable=True),
        time_column("created_at"),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "integration_id", "source_issue_id"),
        sa.UniqueConstraint("tenant_id", "integration_id", "target_issue_id"),
        sa.CheckConstraint("state IN ('active', 'deleted', 'unlinked')", name="state"),
        scoped_fk("integration_id", "integrations"),
    )
    for table, kind in (("comment_links", "comment"), ("attachment_links", "attachment")):
        op.create_table(
            table,
            uuid_column("id", primary_key=True),
            tenant_id_column(),
            uuid_column("issue_link_id", nullable=False),
            sa.Column(f"source_{kind}_id", sa.Text, nullable=False),
            sa.Column(f"target_{kind}_id", sa.Text),
            sa.Column("origin", sa.String(8), nullable=False),
            sa.Column("content_hash", sa.Text),
            sa.Column("skipped_reason", sa.Text),
            time_column("created_at"),
            sa.UniqueConstraint("tenant_id", "id"),
            sa.UniqueConstraint("tenant_id", "issue_link_id", f"source_{kind}_id"),
            sa.CheckConstraint("origin IN ('source', 'target')", name="origin"),
            scoped_fk("issue_link_id", "issue_links"),
        )


def _audit_tables() -> None:
    op.create_table(
        "sync_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        tenant_id_column(),
        uuid_column("integration_id"),
        sa.Column("issue_key", sa.Text),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("api_calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("api_points", sa.Integer, nullable=False, server_default="0"),
        time_column("created_at"),
        sa.CheckConstraint("outcome IN ('ok', 'skipped', 'failed', 'retrying')", name="outcome"),
    )
    op.create_index(None, "sync_attempts", ["tenant_id", "created_at"])
    op.create_index(None, "sync_attempts", ["tenant_id", "integration_id", "issue_key"])
    op.create_table(
        "raw_responses",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        tenant_id_column(),
        uuid_column("data_key_id", nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        time_column("created_at"),
        scoped_fk("data_key_id", "data_keys"),
    )
    op.create_index(None, "raw_responses", ["tenant_id", "created_at"])


def upgrade() -> None:
    _integrations()
    _links()
    _audit_tables()
    for table in (
        "integrations",
        "issue_links",
        "comment_links",
        "attachment_links",
        "sync_attempts",
        "raw_responses",
    ):
        enable_tenant_rls(table)
    for table in ("integrations", "issue_links", "comment_links", "attachment_links"):
        grant_app(table)
    grant_app("sync_attempts", "SELECT, INSERT")
    grant_app("raw_responses", "SELECT, INSERT")
    grant_maintenance("sync_attempts", "SELECT, DELETE")
    grant_maintenance("raw_responses", "SELECT (id, tenant_id, created_at), DELETE")


def downgrade() -> None:
    for table in (
        "raw_responses",
        "sync_attempts",
        "attachment_links",
        "comment_links",
        "issue_links",
        "integrations",
    ):
        op.drop_table(table)
