"""Sealed sync logs and stored raw Jira responses.

(Reserved in the chain so parallel work keeps one head; the schema change is written
with the feature.)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """No change yet."""


def downgrade() -> None:
    """No change yet."""
