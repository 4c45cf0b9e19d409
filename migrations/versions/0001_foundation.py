"""Foundation: tenants, directory, installations, data keys, connections, audit events.

Every tenant table gets ENABLE + FORCE RLS and a policy against app_current_tenant(),
composite foreign keys (x_id, tenant_id), indexes that start with tenant_id, and grants
for the app and maintenance roles (never TRUNCATE; audit is append-only for the app).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from migrations.columns import scoped_fk, tenant_id_column, time_column, uuid_column
from migrations.rls import (
    CURRENT_TENANT,
    enable_tenant_rls,
    grant_app,
    grant_maintenance,
    maintenance_sees_all,
    quote,
)
from models.roles import app_role, maintenance_role

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _functions() -> None:
    """STABLE getters for the transaction-local settings; NULL when unset or empty."""
    for name, setting, sql_type in (
        ("app_current_tenant", "app.tenant_id", "uuid"),
        ("app_lookup_kind", "app.lookup_kind", "text"),
        ("app_lookup_key", "app.lookup_key", "text"),
    ):
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS {sql_type} LANGUAGE sql STABLE PARALLEL SAFE "
            f"AS $$ SELECT nullif(current_setting('{setting}', true), '')::{sql_type} $$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {name}() FROM PUBLIC")
        op.execute(
            f"GRANT EXECUTE ON FUNCTION {name}() TO {quote(app_role())}, "
            f"{quote(maintenance_role())}"
        )


def _tables() -> None:
    op.create_table(
        "tenants",
        uuid_column("id", primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False, server_default="active"),
        time_column("created_at"),
        time_column("updated_at"),
        sa.CheckConstraint("status IN ('active', 'deletion_scheduled')", name="status"),
    )
    op.create_table(
        "tenant_directory",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        tenant_id_column(),
        time_column("created_at"),
        sa.CheckConstraint(
            "kind IN ('connect_client_key', 'forge_installation', 'cloud_id')", name="kind"
        ),
    )
    op.create_index(None, "tenant_directory", ["tenant_id", "kind"])
    op.create_table(
        "data_keys",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        sa.Column("owner_kind", sa.String(32), nullable=False),
        uuid_column("owner_id"),
        sa.Column("kek_id", sa.Text),
        sa.Column("wrapped", sa.LargeBinary),
        time_column("created_at"),
        time_column("rotated_at", nullable=True),
        time_column("destroyed_at", nullable=True),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.CheckConstraint(
            "owner_kind IN ('installation', 'connection', 'tenant_log')", name="owner_kind"
        ),
        sa.CheckConstraint(
            "(wrapped IS NULL) = (kek_id IS NULL) "
            "AND (wrapped IS NULL) = (destroyed_at IS NOT NULL)",
            name="destroyed_consistent",
        ),
    )
    op.create_index(None, "data_keys", ["tenant_id", "owner_kind", "owner_id"])
    op.create_index(None, "data_keys", ["kek_id"])
    op.create_table(
        "installations",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        sa.Column("client_key", sa.Text, nullable=False),
        sa.Column("base_url", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False, server_default="installed"),
        uuid_column("data_key_id", nullable=False),
        sa.Column("shared_secret", sa.LargeBinary, nullable=False),
        time_column("created_at"),
        time_column("updated_at"),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("client_key"),
        sa.CheckConstraint(
            "status IN ('installed', 'enabled', 'disabled', 'uninstalled')", name="status"
        ),
        scoped_fk("data_key_id", "data_keys"),
    )
    op.create_index(None, "installations", ["tenant_id", "status"])
    op.create_table(
        "connections",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        uuid_column("installation_id"),
        sa.Column("cloud_id", sa.Text, nullable=False),
        sa.Column("site_url", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(32), nullable=False, server_default="active"),
        sa.Column("status_reason", sa.Text),
        uuid_column("data_key_id", nullable=False),
        sa.Column("access_token", sa.LargeBinary),
        sa.Column("refresh_token", sa.LargeBinary),
        time_column("token_expires_at", nullable=True),
        time_column("created_at"),
        time_column("updated_at"),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "cloud_id"),
        sa.CheckConstraint("status IN ('active', 'paused', 'revoked')", name="status"),
        scoped_fk("data_key_id", "data_keys"),
        scoped_fk("installation_id", "installations"),
    )
    op.create_index(None, "connections", ["tenant_id", "status"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        tenant_id_column(),
        time_column("occurred_at"),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.create_index(None, "audit_events", ["tenant_id", "occurred_at"])


def _policies() -> None:
    enable_tenant_rls("tenants", column="id")
    for table in ("data_keys", "installations", "connections", "audit_events"):
        enable_tenant_rls(table)

    # The directory: the tenant's own rows, plus during a look-up exactly the one row
    # named by (app.lookup_kind, app.lookup_key). Writes need the tenant.
    own = f"tenant_id = {CURRENT_TENANT}"
    looked_up = "kind = (SELECT app_lookup_kind()) AND key = (SELECT app_lookup_key())"
    op.execute("ALTER TABLE tenant_directory ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenant_directory FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY directory_read ON tenant_directory FOR SELECT "
        f"USING ({own} OR ({looked_up}))"
    )
    op.execute(f"CREATE POLICY directory_insert ON tenant_directory FOR INSERT WITH CHECK ({own})")
    op.execute(
        f"CREATE POLICY directory_update ON tenant_directory FOR UPDATE "
        f"USING ({own}) WITH CHECK ({own})"
    )
    op.execute(f"CREATE POLICY directory_delete ON tenant_directory FOR DELETE USING ({own})")

    # The maintenance role lists tenants and counts data keys per KEK (for rotation);
    # it never sees wrapped key material.
    maintenance_sees_all("tenants")
    maintenance_sees_all("data_keys")


def _grants() -> None:
    for table in ("tenants", "tenant_directory", "installations", "data_keys", "connections"):
        grant_app(table)
    grant_app("audit_events", "SELECT, INSERT")
    grant_maintenance("tenants", "SELECT (id, status, created_at)")
    grant_maintenance(
        "data_keys",
        "SELECT (id, tenant_id, owner_kind, kek_id, created_at, rotated_at, destroyed_at)",
    )
    grant_maintenance("audit_events", "SELECT, DELETE")


def upgrade() -> None:
    _functions()
    _tables()
    _policies()
    _grants()


def downgrade() -> None:
    for table in (
        "audit_events",
        "connections",
        "installations",
        "data_keys",
        "tenant_directory",
        "tenants",
    ):
        op.drop_table(table)
    for name in ("app_current_tenant", "app_lookup_kind", "app_lookup_key"):
        op.execute(f"DROP FUNCTION {name}()")
