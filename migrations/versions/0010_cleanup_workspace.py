"""Disconnect & clean up for a whole workspace, grant revocation and uninstall.

A connection gains the status ``disconnected``: clean-up removed Tandem's marks from the
site, asked Atlassian to revoke the grant, dropped the tokens and destroyed the
connection's data key (crypto-shredding). Unlike ``revoked`` (Atlassian stopped honouring
the grant), nothing of the grant is left to reuse; only a new consent connects the site
again (with a new data key).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BEFORE = "status IN ('active', 'paused', 'revoked')"
AFTER = "status IN ('active', 'paused', 'revoked', 'disconnected')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_connections_status"), "connections", type_="check")
    op.create_check_constraint("status", "connections", AFTER)


def downgrade() -> None:
    # A disconnected connection has no tokens and no usable key: revoked is the nearest.
    # The owner sees every tenant's rows only while RLS is not forced on it.
    op.execute("ALTER TABLE connections NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE connections SET status = 'revoked' WHERE status = 'disconnected'")
    op.execute("ALTER TABLE connections FORCE ROW LEVEL SECURITY")
    op.drop_constraint(op.f("ck_connections_status"), "connections", type_="check")
    op.create_check_constraint("status", "connections", BEFORE)
