"""Forge remote: installations and sealed app system tokens.

(Reserved in the chain so parallel work keeps one head; the schema change is written
with the feature.)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """No change yet."""


def downgrade() -> None:
    """No change yet."""
