"""The audit trail's hash chain: canonical encoding, genesis values and the append lock.

Each ``audit_events`` row carries ``row_hash`` = SHA-256 over a versioned, length-
prefixed encoding of (tenant, segment, prev_hash, occurred_at, actor, action, subject,
canonical JSON of details). ``prev_hash`` is the previous row's ``row_hash`` in the same
(tenant, segment), the segment being the UTC day of ``occurred_at``; the first row of a
segment chains from a genesis value derived from (tenant, day) alone, so dropping whole
old days leaves later days verifiable while editing or removing one row breaks its day.

Pure functions only: the writer (``models.audit``), the migration that hashed the rows
written before the chain, and the verifier (``audit.verify``) all use these.
"""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

VERSION = b"tandem-audit-v1"
_GENESIS = b"tandem-audit-v1/genesis"
_LOCK = b"tandem-audit-v1/lock"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NULL = b"\xff\xff\xff\xff"


def segment_of(occurred_at: datetime) -> date:
    """The UTC day an event belongs to (what the ``segment`` column computes)."""
    if occurred_at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return occurred_at.astimezone(UTC).date()


def _jsonb_number(literal: str) -> Any:
    """A float literal as PostgreSQL's ``numeric`` gives it back (no exponent, no -0)."""
    value = Decimal(literal)
    if value == 0:
        value = abs(value)
    return json.loads(format(value, "f"))


def normalize_details(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` as they read back from ``jsonb``, so the hash survives the round trip.

    PostgreSQL stores JSON numbers as ``numeric``: ``1e20`` comes back as the integer
    ``100000000000000000000`` and ``-0.0`` as ``0.0``; NaN and infinities are refused.
    """
    text = json.dumps(details, allow_nan=False, ensure_ascii=False)
    return json.loads(text, parse_float=_jsonb_number)


def canonical_json(details: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (apply to normalised details)."""
    text = json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _field(value: bytes | None) -> bytes:
    if value is None:
        return _NULL
    return struct.pack(">I", len(value)) + value


def _text(value: str | None) -> bytes | None:
    return None if value is None else value.encode("utf-8")


def genesis_hash(tenant_id: uuid.UUID, segment: date) -> bytes:
    """What the first row of a (tenant, day) chains from."""
    return hashlib.sha256(
        _GENESIS + _field(tenant_id.bytes) + _field(segment.isoformat().encode())
    ).digest()


def row_hash(
    tenant_id: uuid.UUID,
    prev_hash: bytes,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any],
) -> bytes:
    """The row's own hash; its segment is derived from ``occurred_at``."""
    micros = (occurred_at - _EPOCH) // _MICROSECOND
    encoded = b"".join(
        (
            VERSION,
            _field(tenant_id.bytes),
            _field(segment_of(occurred_at).isoformat().encode()),
            _field(prev_hash),
            _field(struct.pack(">q", micros)),
            _field(_text(actor)),
            _field(_text(action)),
            _field(_text(subject)),
            _field(canonical_json(details)),
        )
    )
    return hashlib.sha256(encoded).digest()


def lock_key(tenant_id: uuid.UUID) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` (one per tenant)."""
    digest = hashlib.sha256(_LOCK + tenant_id.bytes).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
