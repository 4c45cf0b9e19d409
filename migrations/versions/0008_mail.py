"""Email: a workspace contact address for the deletion notices.

(Reserved in the chain so parallel work keeps one head; the schema change is written
with the feature.)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """No change yet."""


def downgrade() -> None:
    """No change yet."""
