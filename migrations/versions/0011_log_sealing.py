"""Sealed sync logs and stored raw Jira responses.

- tenants gains seal_sync_logs (default false): while on, the detailed part of each
  sync attempt is stored sealed under the tenant's log key instead of in plaintext.
- sync_attempts gains sealed_details (bytea: details and error, sealed) and seal_id (a
  random uuid per sealed row: the identity id is not known before the INSERT, so the
  sealed value's associated data names seal_id as its row). CHECKs keep them together
  and refuse a row holding the detailed part both sealed and in plaintext.
- raw_responses gains seal_id for the same reason (the body's associated data).
- data_keys: at most one live log key (owner_kind tenant_log) per tenant, a partial
  unique index, so two workers creating it at once cannot make two.
- The maintenance role may UPDATE sync_attempts.sealed_details and seal_id, so the
  retention purge blanks the sealed detailed part as it blanks details and error (0007).
  RLS is unchanged; the app role's table grants cover the new columns.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.columns import uuid_column
from migrations.rls import grant_maintenance, quote
from models.roles import maintenance_role

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

LOG_KEY_INDEX = "uq_data_keys_tenant_log"


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("seal_sync_logs", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("sync_attempts", uuid_column("seal_id"))
    op.add_column("sync_attempts", sa.Column("sealed_details", sa.LargeBinary))
    op.create_check_constraint(
        "sealed_with_id", "sync_attempts", "(seal_id IS NULL) = (sealed_details IS NULL)"
    )
    op.create_check_constraint(
        "sealed_or_plain",
        "sync_attempts",
        "sealed_details IS NULL OR (details = '{}'::jsonb AND error IS NULL)",
    )
    op.add_column(
        "raw_responses",
        uuid_column("seal_id", nullable=False, server_default=sa.text("gen_random_uuid()")),
    )
    op.create_index(
        LOG_KEY_INDEX,
        "data_keys",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("owner_kind = 'tenant_log' AND destroyed_at IS NULL"),
    )
    grant_maintenance("sync_attempts", "UPDATE (sealed_details, seal_id)")


def downgrade() -> None:
    role = quote(maintenance_role())
    op.execute(f"REVOKE UPDATE (sealed_details, seal_id) ON sync_attempts FROM {role}")
    op.drop_index(LOG_KEY_INDEX, "data_keys")
    op.drop_column("raw_responses", "seal_id")
    # op.f: the names are final (the naming convention would prefix them again).
    for name in ("ck_sync_attempts_sealed_or_plain", "ck_sync_attempts_sealed_with_id"):
        op.drop_constraint(op.f(name), "sync_attempts", type_="check")
    op.drop_column("sync_attempts", "sealed_details")
    op.drop_column("sync_attempts", "seal_id")
    op.drop_column("tenants", "seal_sync_logs")
