"""Forge remote: installations and sealed app system tokens.

- forge_installations: one Forge installation of the app on a Jira site (its
  ``ari:cloud:ecosystem::installation/...`` id, the site's cloud id and API base URL),
  attached to the ``installations`` row of that site, so a Connect install that moves to
  Forge keeps its tenant, integrations and links. The newest app system token Forge sent
  is kept sealed under the Forge installation's own DEK (data_keys owner_kind
  'forge_installation'), with its expiry. A tenant table: ENABLE + FORCE RLS, the tenant
  policy, composite foreign keys, indexes that start with tenant_id; the maintenance role
  may delete its rows (account deletion).
- installations: a site installed through Forge only has no Connect part, so
  client_key, shared_secret and data_key_id may be NULL, all three together; the site's
  cloud id is kept when Atlassian sends it (it finds the Connect install a Forge install
  migrates).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

from migrations.columns import scoped_fk, tenant_id_column, time_column, uuid_column
from migrations.rls import enable_tenant_rls, grant_app, grant_maintenance

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FORGE_OWNER = "forge_installation"
CONNECT_PARTS = (
    "(client_key IS NULL) = (shared_secret IS NULL) "
    "AND (client_key IS NULL) = (data_key_id IS NULL)"
)


def _owner_kinds() -> list[str]:
    """The owner kinds data_keys allows now (other migrations add theirs too)."""
    definition = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'ck_data_keys_owner_kind'"
            )
        )
        .scalar_one()
    )
    return re.findall(r"'([a-z_]+)'", definition)


def _set_owner_kinds(kinds: list[str]) -> None:
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    op.drop_constraint(op.f("ck_data_keys_owner_kind"), "data_keys", type_="check")
    op.create_check_constraint("owner_kind", "data_keys", f"owner_kind IN ({listed})")


def upgrade() -> None:
    for column in ("client_key", "shared_secret", "data_key_id"):
        op.alter_column("installations", column, nullable=True)
    op.create_check_constraint("connect_parts", "installations", CONNECT_PARTS)
    op.add_column("installations", sa.Column("cloud_id", sa.Text))
    op.create_index(None, "installations", ["tenant_id", "cloud_id"])
    _set_owner_kinds([*(k for k in _owner_kinds() if k != FORGE_OWNER), FORGE_OWNER])

    op.create_table(
        "forge_installations",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        uuid_column("installation_id", nullable=False),
        sa.Column("forge_installation_id", sa.Text, nullable=False),
        sa.Column("app_id", sa.Text, nullable=False),
        sa.Column("cloud_id", sa.Text, nullable=False),
        sa.Column("api_base_url", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False, server_default="installed"),
        uuid_column("data_key_id", nullable=False),
        sa.Column("system_token", sa.LargeBinary),
        time_column("token_expires_at", nullable=True),
        time_column("created_at"),
        time_column("updated_at"),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("forge_installation_id"),
        sa.CheckConstraint("status IN ('installed', 'uninstalled')", name="status"),
        sa.CheckConstraint(
            "(system_token IS NULL) = (token_expires_at IS NULL)", name="token_with_expiry"
        ),
        scoped_fk("installation_id", "installations"),
        scoped_fk("data_key_id", "data_keys"),
    )
    op.create_index(None, "forge_installations", ["tenant_id", "installation_id"])
    enable_tenant_rls("forge_installations")
    grant_app("forge_installations")
    grant_maintenance("forge_installations", "SELECT (tenant_id), DELETE")


def downgrade() -> None:
    op.drop_table("forge_installations")
    op.execute(f"DELETE FROM data_keys WHERE owner_kind = '{FORGE_OWNER}'")
    _set_owner_kinds([k for k in _owner_kinds() if k != FORGE_OWNER])
    # A site installed through Forge only has no Connect part: while one exists, the
    # NOT NULLs below refuse, and the downgrade stops rather than delete a workspace.
    op.drop_index("ix_installations_tenant_id_cloud_id", "installations")
    op.drop_column("installations", "cloud_id")
    op.drop_constraint(op.f("ck_installations_connect_parts"), "installations", type_="check")
    for column in ("client_key", "shared_secret", "data_key_id"):
        op.alter_column("installations", column, nullable=False)
