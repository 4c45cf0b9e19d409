"""Column and constraint helpers shared by the migrations (the house conventions)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

NOW = sa.text("now()")


def uuid_column(name: str, **kwargs: object) -> sa.Column:
    """A UUID column."""
    return sa.Column(name, UUID(as_uuid=True), **kwargs)


def time_column(name: str, nullable: bool = False) -> sa.Column:
    """A timestamptz column; NOT NULL ones default to now()."""
    default = None if nullable else NOW
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def tenant_id_column() -> sa.Column:
    """The ``tenant_id`` column every tenant table has."""
    return sa.Column(
        "tenant_id",
        UUID(as_uuid=True),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
    )


def scoped_fk(column: str, parent: str) -> sa.ForeignKeyConstraint:
    """A composite foreign key ``(column, tenant_id)``: a child can't point across tenants."""
    return sa.ForeignKeyConstraint(
        [column, "tenant_id"], [f"{parent}.id", f"{parent}.tenant_id"], ondelete="CASCADE"
    )
