"""Email: a workspace contact address for the deletion notices.

- tenants gains contact_email (nullable text, at most 254 characters: the longest
  address SMTP carries). The app role already has SELECT/UPDATE on tenants, and the
  tenant policy confines it to its own row.
- The maintenance role may read tenants.name and tenants.contact_email: the deletion
  sweeper reads them in the erase transaction, just before the row is deleted, to send
  the "workspace deleted" notice (compliance/deletion.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.rls import grant_maintenance, quote
from models.roles import maintenance_role

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

READ_BY_SWEEPER = "name, contact_email"


def upgrade() -> None:
    op.add_column("tenants", sa.Column("contact_email", sa.Text, nullable=True))
    op.create_check_constraint("contact_email_length", "tenants", "length(contact_email) <= 254")
    grant_maintenance("tenants", f"SELECT ({READ_BY_SWEEPER})")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ({READ_BY_SWEEPER}) ON tenants FROM {quote(maintenance_role())}")
    op.drop_constraint(
        "contact_email_length", "tenants", type_="check"
    )  # the convention adds ck_tenants_
    op.drop_column("tenants", "contact_email")
