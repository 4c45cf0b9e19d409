"""Retention: per-workspace windows on tenants, and the maintenance role's purge grants.

- tenants gains raw_response_days (0..30, default 30; 0 = never kept), sync_log_days
  (1..90, default 90) and sync_logs_enabled (default true). The CHECKs are the platform
  maxima, so no path can store a longer window. The app role already has UPDATE on
  tenants; the maintenance role (which runs the purge) may now read these columns too.
- The maintenance role may UPDATE exactly sync_attempts.details and sync_attempts.error
  (the detailed part of an attempt), so the purge can blank them and keep the minimal
  row. It already held DELETE on raw_responses and webhook_events. RLS is unchanged: the
  purge sets app.tenant_id, and each table's tenant policy confines it to that tenant.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.rls import grant_maintenance, quote
from models.roles import maintenance_role

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SETTINGS = "raw_response_days, sync_log_days, sync_logs_enabled"


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("raw_response_days", sa.Integer, nullable=False, server_default="30"),
    )
    op.add_column(
        "tenants", sa.Column("sync_log_days", sa.Integer, nullable=False, server_default="90")
    )
    op.add_column(
        "tenants",
        sa.Column("sync_logs_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_check_constraint("raw_response_days", "tenants", "raw_response_days BETWEEN 0 AND 30")
    op.create_check_constraint("sync_log_days", "tenants", "sync_log_days BETWEEN 1 AND 90")
    grant_maintenance("tenants", f"SELECT ({SETTINGS})")
    grant_maintenance("sync_attempts", "UPDATE (details, error)")


def downgrade() -> None:
    role = quote(maintenance_role())
    op.execute(f"REVOKE UPDATE (details, error) ON sync_attempts FROM {role}")
    op.execute(f"REVOKE SELECT ({SETTINGS}) ON tenants FROM {role}")
    op.drop_constraint("ck_tenants_sync_log_days", "tenants", type_="check")
    op.drop_constraint("ck_tenants_raw_response_days", "tenants", type_="check")
    for column in ("sync_logs_enabled", "sync_log_days", "raw_response_days"):
        op.drop_column("tenants", column)
