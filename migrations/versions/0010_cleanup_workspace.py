"""Disconnect & clean up for a whole workspace, grant revocation and uninstall.

(Reserved in the chain so parallel work keeps one head; the schema change is written
with the feature.)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """No change yet."""


def downgrade() -> None:
    """No change yet."""
