"""Atlassian personal-data reporting: which accounts Tandem holds personal data of.

- atlassian_accounts: one row per (tenant, Atlassian account id, end it was seen
  through: an installation or a connection, exactly one). ``refreshed_at`` is when
  Tandem's copies of that account's personal data were last brought up to date (it is
  the ``updatedAt`` of the weekly report); ``closed_at`` is set when Atlassian reports the
  account closed and stays until its erasure has finished, then the row goes.
  ``end_id`` (generated: whichever end is set) carries the unique key the engine's
  ``INSERT ... ON CONFLICT DO NOTHING`` names. RLS ENABLE + FORCE with the tenant
  policy; the app role reads and writes it, the maintenance role may delete it (the
  account-deletion sweeper, as for every tenant table since 0006).
- comment_links.author_account_id: who wrote the comment a copy was made of, so the
  attribution line naming them on the copy can be rewritten when their account is
  closed or changed. Links made before this revision have none.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from migrations.columns import scoped_fk, tenant_id_column, time_column, uuid_column
from migrations.rls import enable_tenant_rls, grant_app, grant_maintenance

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "atlassian_accounts",
        uuid_column("id", primary_key=True, server_default=sa.text("gen_random_uuid()")),
        tenant_id_column(),
        sa.Column("account_id", sa.Text, nullable=False),
        uuid_column("installation_id"),
        uuid_column("connection_id"),
        sa.Column(
            "end_id",
            UUID(as_uuid=True),
            sa.Computed("coalesce(installation_id, connection_id)", persisted=True),
        ),
        time_column("first_seen_at"),
        time_column("refreshed_at"),
        time_column("reported_at", nullable=True),
        time_column("closed_at", nullable=True),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "end_id", "account_id"),
        sa.CheckConstraint("(installation_id IS NULL) <> (connection_id IS NULL)", name="one_end"),
        sa.CheckConstraint("length(account_id) BETWEEN 1 AND 128", name="account_id_length"),
        scoped_fk("installation_id", "installations"),
        scoped_fk("connection_id", "connections"),
    )
    op.create_index(None, "atlassian_accounts", ["tenant_id", "account_id"])
    enable_tenant_rls("atlassian_accounts")
    grant_app("atlassian_accounts")
    grant_maintenance("atlassian_accounts", "SELECT (tenant_id), DELETE")
    op.add_column("comment_links", sa.Column("author_account_id", sa.Text))


def downgrade() -> None:
    op.drop_column("comment_links", "author_account_id")
    op.drop_table("atlassian_accounts")
