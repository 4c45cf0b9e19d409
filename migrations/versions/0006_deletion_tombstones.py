"""Account deletion: the tombstone table and the maintenance role's erasure grants.

- deletion_tombstones: the only record left of a hard-deleted workspace. It has NO
  tenant_id column and nothing else that points at the tenant: a SHA-256 of the tenant
  id under a fixed domain prefix (compliance/deletion.py), when deletion was requested
  and done, and how many rows each table lost. The maintenance role (which runs the
  sweeper) may INSERT and SELECT it; the app role gets nothing.
- The maintenance role may now DELETE on every tenant table, plus SELECT of the tenant
  column the WHERE clause reads (never TRUNCATE, never BYPASSRLS). It sets app.tenant_id
  for the sweeper's transaction, so each table's tenant policy still confines every
  DELETE to that one tenant.
- A cross-tenant SELECT policy on deletion_requests (narrow columns, no reason) lets the
  sweeper find the requests that are due.

A new tenant table must grant the same (DELETE, SELECT (tenant_id)) to the maintenance
role; tests/test_deletion.py checks every tenant table in the catalog.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from migrations.columns import time_column, uuid_column
from migrations.rls import grant_maintenance, maintenance_sees_all, quote
from models.roles import maintenance_role

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Every tenant table of revisions 0001-0005 and the column that names its tenant.
TENANT_TABLES = {
    "tenants": "id",
    "tenant_directory": "tenant_id",
    "data_keys": "tenant_id",
    "installations": "tenant_id",
    "connections": "tenant_id",
    "audit_events": "tenant_id",
    "webhook_events": "tenant_id",
    "deletion_requests": "tenant_id",
    "integrations": "tenant_id",
    "issue_links": "tenant_id",
    "comment_links": "tenant_id",
    "attachment_links": "tenant_id",
    "sync_attempts": "tenant_id",
    "raw_responses": "tenant_id",
}
# What to take back on downgrade where the maintenance role held something before (its
# earlier column or table grants stay); it held nothing on the other tenant tables.
HELD_BEFORE = {
    "tenants": "DELETE",
    "data_keys": "DELETE",
    "webhook_events": "DELETE",
    "audit_events": "SELECT (tenant_id)",
    "sync_attempts": "SELECT (tenant_id)",
    "raw_responses": "",  # it held SELECT (id, tenant_id, created_at), DELETE already
}


def upgrade() -> None:
    op.create_table(
        "deletion_tombstones",
        uuid_column("id", primary_key=True),
        sa.Column("tenant_hash", sa.String(64), nullable=False, unique=True),
        time_column("requested_at"),
        time_column("deleted_at"),
        sa.Column("row_counts", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.CheckConstraint("tenant_hash ~ '^[0-9a-f]{64}$'", name="tenant_hash_hex"),
    )
    op.execute("REVOKE ALL ON deletion_tombstones FROM PUBLIC")
    grant_maintenance("deletion_tombstones", "SELECT, INSERT")
    for table, column in TENANT_TABLES.items():
        grant_maintenance(table, f"SELECT ({column}), DELETE")
    grant_maintenance(
        "deletion_requests", "SELECT (id, tenant_id, status, requested_at, delete_after)"
    )
    maintenance_sees_all("deletion_requests")


def downgrade() -> None:
    op.execute("DROP POLICY maintenance_inventory ON deletion_requests")
    role = quote(maintenance_role())
    for table in TENANT_TABLES:
        if table in HELD_BEFORE:
            if HELD_BEFORE[table]:
                op.execute(f"REVOKE {HELD_BEFORE[table]} ON {table} FROM {role}")
        else:
            op.execute(f"REVOKE ALL ON {table} FROM {role}")
    op.drop_table("deletion_tombstones")
