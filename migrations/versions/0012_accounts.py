"""Dashboard accounts, memberships (roles), and invitation / password-reset tokens.

Every table is a tenant table (ENABLE + FORCE RLS, the tenant policy, composite foreign
keys (x_id, tenant_id), indexes that start with tenant_id):

- accounts: one dashboard account of one workspace. email_key is the HMAC-SHA256 of the
  normalised address (auth/email_keys.py); the password is an argon2id hash (never the
  password); totp_secret is sealed under the account's own DEK (data_keys owner_kind
  'account'); failed_logins / locked_until are the lockout state.
- memberships: the role (owner > admin > member > viewer) of a principal in the
  workspace: either a dashboard account or a Jira user by Atlassian account id.
- account_tokens: invitations and password resets, stored as the SHA-256 of the random
  token only, single-use (used_at) and expiring (expires_at).

A login arrives before the tenant is known: tenant_directory gains the kind
'account_email' (key = email_key), found through the directory's narrow look-up policy
like a clientKey, so no SECURITY DEFINER function is needed.

Sessions live in Redis (auth/sessions.py), not here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.columns import scoped_fk, tenant_id_column, time_column, uuid_column
from migrations.rls import enable_tenant_rls, grant_app, grant_maintenance

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = ("account_tokens", "memberships", "accounts")  # children first
ROLES = "role IN ('owner', 'admin', 'member', 'viewer')"
DIRECTORY_KINDS = "'connect_client_key', 'forge_installation', 'cloud_id'"
DATA_KEY_OWNERS = "'installation', 'connection', 'tenant_log'"


def _accounts() -> None:
    op.create_table(
        "accounts",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("email_key", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        uuid_column("data_key_id"),
        sa.Column("totp_secret", sa.LargeBinary),
        sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        time_column("locked_until", nullable=True),
        time_column("password_changed_at"),
        time_column("last_login_at", nullable=True),
        time_column("created_at"),
        time_column("updated_at"),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "email_key"),
        sa.CheckConstraint("email_key ~ '^[0-9a-f]{64}$'", name="email_key_hex"),
        sa.CheckConstraint("failed_logins >= 0", name="failed_logins"),
        sa.CheckConstraint("NOT totp_enabled OR totp_secret IS NOT NULL", name="totp_secret"),
        scoped_fk("data_key_id", "data_keys"),
    )


def _memberships() -> None:
    op.create_table(
        "memberships",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        uuid_column("account_id"),
        sa.Column("atlassian_account_id", sa.String(128)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.Text),
        time_column("created_at"),
        time_column("updated_at"),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "account_id"),
        sa.UniqueConstraint("tenant_id", "atlassian_account_id"),
        sa.CheckConstraint(ROLES, name="role"),
        sa.CheckConstraint(
            "(account_id IS NULL) <> (atlassian_account_id IS NULL)", name="one_principal"
        ),
        scoped_fk("account_id", "accounts"),
    )
    op.create_index(None, "memberships", ["tenant_id", "role"])


def _tokens() -> None:
    op.create_table(
        "account_tokens",
        uuid_column("id", primary_key=True),
        tenant_id_column(),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        uuid_column("account_id"),
        sa.Column("email", sa.Text),
        sa.Column("role", sa.String(16)),
        sa.Column("created_by", sa.Text, nullable=False),
        time_column("expires_at"),
        time_column("used_at", nullable=True),
        time_column("created_at"),
        sa.UniqueConstraint("tenant_id", "id"),
        sa.UniqueConstraint("tenant_id", "token_hash"),
        sa.CheckConstraint("purpose IN ('invitation', 'password_reset')", name="purpose"),
        sa.CheckConstraint("octet_length(token_hash) = 32", name="token_hash_length"),
        sa.CheckConstraint(
            "purpose <> 'invitation' OR (email IS NOT NULL AND role IS NOT NULL)",
            name="invitation_fields",
        ),
        sa.CheckConstraint(
            "purpose <> 'password_reset' OR account_id IS NOT NULL", name="reset_account"
        ),
        sa.CheckConstraint(f"role IS NULL OR {ROLES}", name="role"),
        scoped_fk("account_id", "accounts"),
    )
    op.create_index(None, "account_tokens", ["tenant_id", "purpose", "expires_at"])


def _replace_check(table: str, name: str, column: str, values: str) -> None:
    # Raw SQL: op.drop_constraint would run the full name through the naming convention.
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_{name}")
    op.create_check_constraint(name, table, f"{column} IN ({values})")


def upgrade() -> None:
    _accounts()
    _memberships()
    _tokens()
    for table in TABLES:
        enable_tenant_rls(table)
        grant_app(table)
        # Account deletion (compliance/deletion.py) deletes every tenant table's rows.
        grant_maintenance(table, "SELECT (tenant_id), DELETE")
    _replace_check("tenant_directory", "kind", "kind", f"{DIRECTORY_KINDS}, 'account_email'")
    _replace_check("data_keys", "owner_kind", "owner_kind", f"{DATA_KEY_OWNERS}, 'account'")


def downgrade() -> None:
    op.execute("DELETE FROM tenant_directory WHERE kind = 'account_email'")
    for table in TABLES:
        op.drop_table(table)
    op.execute("DELETE FROM data_keys WHERE owner_kind = 'account'")
    _replace_check("tenant_directory", "kind", "kind", DIRECTORY_KINDS)
    _replace_check("data_keys", "owner_kind", "owner_kind", DATA_KEY_OWNERS)
