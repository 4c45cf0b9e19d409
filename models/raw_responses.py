"""Raw Jira responses kept sealed for diagnosis (retention purges them).

A sync job collects the bodies of the reads worth keeping (jira/raw_bodies.py) while
the tenant's ``raw_response_days`` is above 0, and ``store_raw_responses`` writes them
all at the end of the job: one sealed body per response, one INSERT per job.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Identity, Index, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, Session, mapped_column

from keys.envelope import SealContext, seal
from models.base import Base, created_at, tenant_fk, tenant_scoped_fk
from models.db import Database

if TYPE_CHECKING:
    from keys.data_keys import KeyService


class RawResponse(Base):
    """A Jira response body, sealed under the tenant's log key."""

    __tablename__ = "raw_responses"
    __table_args__ = (
        tenant_scoped_fk("data_key_id", "data_keys"),
        Index(None, "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    data_key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # The sealed body's row in its associated data (the identity id is not known before
    # the INSERT); random per row, set by store_raw_responses.
    seal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), nullable=False, server_default=text("gen_random_uuid()")
    )
    source: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = created_at()


def body_context(tenant_id: uuid.UUID, seal_id: uuid.UUID) -> SealContext:
    """Where a sealed body lives: named by its row's random ``seal_id``, since the
    identity id is only assigned by the INSERT (see models/sync_attempts.py)."""
    return SealContext(tenant_id, "raw_responses", str(seal_id), "body")


def store_raw_responses(
    db: Database,
    keys: KeyService,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    bodies: Sequence[tuple[str, bytes]],
) -> None:
    """Seal each (source, body) under the log key ``key_id`` and insert them all in one
    statement (one round trip). The statement itself checks that the tenant still keeps
    raw responses, so a switch to 0 holds at once, whatever a process has cached."""
    if not bodies:
        return
    with db.tenant_session(tenant_id) as session:
        key = keys.get(session, key_id)  # from the key cache: no round trip while cached
    rows, parameters = [], {"tenant": str(tenant_id), "key": str(key_id)}
    for n, (source, body) in enumerate(bodies):
        seal_id = uuid.uuid4()
        rows.append(f"(%(seal{n})s::uuid, %(source{n})s, %(body{n})s::bytea)")
        parameters |= {
            f"seal{n}": str(seal_id),
            f"source{n}": source,
            f"body{n}": seal(body, key, body_context(tenant_id, seal_id)),
        }
    sql = (
        "INSERT INTO raw_responses (tenant_id, data_key_id, seal_id, source, body) "  # noqa: S608
        "SELECT %(tenant)s::uuid, %(key)s::uuid, v.seal_id, v.source, v.body "
        f"FROM (VALUES {', '.join(rows)}) AS v (seal_id, source, body) "
        "WHERE (SELECT raw_response_days FROM tenants WHERE id = %(tenant)s::uuid) > 0"
    )
    db.tenant_statement(tenant_id, sql, parameters)


def open_raw_response(session: Session, keys: KeyService, row: RawResponse) -> bytes:
    """A stored response's body (InvalidCiphertext if altered, moved or its key is gone)."""
    return keys.open(session, bytes(row.body), body_context(row.tenant_id, row.seal_id))
