"""The audit of every sync attempt, each written in its own transaction so failures
are recorded too.

An attempt has a minimal part (who, what, when, outcome, calls), kept as long as the
link metadata, and a detailed part (``details`` and ``error``), which is a sync log: it
is written only while the workspace has sync logs on, and retention blanks it once the
workspace's sync-log window has passed (compliance/retention.py). With the workspace's
``seal_sync_logs`` on, the detailed part is stored sealed under the tenant's log key in
``sealed_details`` (``details`` and ``error`` stay empty); ``attempt_details`` opens it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    case,
    insert,
    literal,
    not_,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, Session, mapped_column

from keys.data_keys import DataKeyGone
from keys.envelope import SealContext
from models.base import Base, created_at, one_of, tenant_fk
from models.db import Database
from models.tenants import Tenant

if TYPE_CHECKING:
    from keys.data_keys import KeyService
    from models.log_policy import LogPolicies

OUTCOMES = ("ok", "skipped", "failed", "retrying")


class SyncAttempt(Base):
    """One attempt to sync one issue (or one step of a backfill or drift run)."""

    __tablename__ = "sync_attempts"
    __table_args__ = (
        CheckConstraint(one_of("outcome", OUTCOMES), name="outcome"),
        CheckConstraint("(seal_id IS NULL) = (sealed_details IS NULL)", name="sealed_with_id"),
        CheckConstraint(
            "sealed_details IS NULL OR (details = '{}'::jsonb AND error IS NULL)",
            name="sealed_or_plain",
        ),
        Index(None, "tenant_id", "created_at"),
        Index(None, "tenant_id", "integration_id", "issue_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    integration_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    issue_key: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    api_calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    api_points: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    seal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    sealed_details: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at()


class AttemptRow(Protocol):
    """What ``attempt_details`` reads: a SyncAttempt, or a row of its columns."""

    tenant_id: uuid.UUID
    seal_id: uuid.UUID | None
    sealed_details: bytes | None
    details: dict[str, Any]
    error: str | None


def details_context(tenant_id: uuid.UUID, seal_id: uuid.UUID) -> SealContext:
    """Where a sealed detailed part lives. The row's identity id is assigned by the
    INSERT itself, so the associated data names the row by ``seal_id`` instead: a
    random uuid generated for this one seal and stored beside it. The value then opens
    only for this tenant, this table and this field, next to this seal_id; copied to
    another row, table or tenant (or with its seal_id changed) it fails to open."""
    return SealContext(tenant_id, "sync_attempts", str(seal_id), "details")


def attempt_details(
    session: Session, keys: KeyService, attempt: AttemptRow
) -> tuple[dict[str, Any], str | None]:
    """An attempt's detailed part (details, error), opened when it is sealed.

    Raises InvalidCiphertext (DataKeyGone once the log key is destroyed) when a sealed
    value was altered or moved, or can no longer be opened."""
    if attempt.sealed_details is None or attempt.seal_id is None:
        return dict(attempt.details or {}), attempt.error
    context = details_context(attempt.tenant_id, attempt.seal_id)
    opened = json.loads(keys.open(session, bytes(attempt.sealed_details), context))
    return opened["details"], opened["error"]


def record_attempt(
    db: Database, tenant_id: uuid.UUID, logs: LogPolicies | None = None, **fields: Any
) -> None:
    """Write one attempt row in a transaction of its own (never the caller's): one
    INSERT, plus a seal (~60 µs, no round trip) while the tenant's logs are sealed.

    ``logs`` is the process's cached log policies (runtime.log_policies); without it
    nothing is sealed, and with sealing on the detailed part is then dropped."""
    if fields.get("outcome") not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    details = fields.pop("details", None) or {}
    error = fields.pop("error", None)
    policy = logs.get(tenant_id) if logs is not None else None
    # The switches are read inside the INSERT, as the statement runs, whatever a process
    # has cached: the detailed part is kept only while logs are on, and in plaintext
    # only while sealing is off.
    own = Tenant.id == tenant_id
    logs_on = select(Tenant.sync_logs_enabled).where(own).scalar_subquery()
    plain = select(and_(Tenant.sync_logs_enabled, not_(Tenant.seal_sync_logs))).where(own)
    with db.tenant_session(tenant_id) as session:
        sealed = None
        if logs is not None and policy is not None and policy.seals_logs:
            sealed = _seal(session, logs, tenant_id, policy.log_key_id, details, error)
        if sealed is None:
            detailed = {
                "details": case(
                    (plain.scalar_subquery(), literal(details, JSONB)), else_=literal({}, JSONB)
                ),
                "error": case((plain.scalar_subquery(), literal(error, Text)), else_=null()),
            }
        else:
            seal_id, body = sealed
            detailed = {
                "seal_id": case((logs_on, literal(seal_id, UUID(as_uuid=True))), else_=null()),
                "sealed_details": case((logs_on, literal(body, LargeBinary)), else_=null()),
            }
        session.execute(insert(SyncAttempt).values(tenant_id=tenant_id, **detailed, **fields))


def _seal(
    session: Session,
    logs: LogPolicies,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID | None,
    details: dict[str, Any],
    error: str | None,
) -> tuple[uuid.UUID, bytes] | None:
    """(seal_id, sealed details and error); None when the log key is gone (the attempt is
    then recorded without its detailed part, and the policy read again next time)."""
    if key_id is None:
        return None
    seal_id = uuid.uuid4()
    plaintext = json.dumps({"details": details, "error": error}, separators=(",", ":"))
    try:
        body = logs.keys.seal(session, key_id, details_context(tenant_id, seal_id), plaintext)
    except DataKeyGone:
        logs.forget(tenant_id)
        return None
    return seal_id, body
