"""Account deletion after the grace period: hard delete, crypto-shred, tombstone.

``delete_due_workspaces`` runs as the maintenance role. For each workspace whose
scheduled request is due it opens one transaction with ``app.tenant_id`` set to that
tenant (so every table's RLS policy still confines each DELETE to it), deletes the
tenant's rows from every tenant table in the catalog (child before parent; this
includes tenant_directory, data_keys and the request itself), writes a tombstone that
holds only a hash of the tenant id, and commits. Then it evicts the tenant's DEKs from
this process's key cache. Any error rolls the whole tenant back; a re-run is a no-op.

Inside that transaction, before the rows go, it also reads who to tell and prepares the
"workspace deleted" notice (compliance/deletion_notices.py), which is queued only after
the commit: from then on the address exists only in the queued mail job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

from compliance.deletion_notices import prepare_deleted_notice
from compliance.tenant_tables import tenant_tables
from mailer import Message, send_mail
from migrations.rls import quote
from runtime import Runtime

log = logging.getLogger(__name__)

TOMBSTONE_DOMAIN = b"tandem-deletion-tombstone-v1:"

DUE = (
    "SELECT DISTINCT tenant_id FROM deletion_requests "
    "WHERE status = 'scheduled' AND delete_after <= :now"
)
# Claims the request under a row lock: a re-install that cancelled it first wins.
CLAIM = (
    "DELETE FROM deletion_requests "
    "WHERE tenant_id = :t AND status = 'scheduled' AND delete_after <= :now "
    "RETURNING requested_at"
)
TOMBSTONE = (
    "INSERT INTO deletion_tombstones (id, tenant_hash, requested_at, deleted_at, row_counts) "
    "VALUES (:id, :hash, :requested_at, :deleted_at, CAST(:counts AS jsonb)) "
    "ON CONFLICT (tenant_hash) DO NOTHING"
)


@dataclass(frozen=True)
class Erased:
    """What is left to do after a tenant's erase transaction committed."""

    key_ids: list[uuid.UUID]
    notice: Message | None


class DeletionFailed(RuntimeError):
    """Some due workspaces could not be deleted (each was rolled back; retried next run)."""


def tenant_hash(tenant_id: uuid.UUID) -> str:
    """The tombstone's name for a tenant: SHA-256 hex of the id under a fixed prefix."""
    return hashlib.sha256(TOMBSTONE_DOMAIN + str(tenant_id).encode()).hexdigest()


def delete_due_workspaces(runtime: Runtime, now: datetime | None = None) -> int:
    """Hard-delete every workspace whose grace period ended by ``now``; how many were."""
    now = now or datetime.now(UTC)
    engine = runtime.maintenance_engine()
    with engine.connect() as connection:
        due = connection.execute(text(DUE), {"now": now}).scalars().all()
    deleted, failed = 0, 0
    for tenant_id in due:
        try:
            erased = _erase(engine, tenant_id, now)
        except Exception:
            failed += 1
            log.exception("deleting workspace %s failed (rolled back)", tenant_hash(tenant_id))
            continue
        if erased is None:
            continue
        for key_id in erased.key_ids:
            runtime.keys.cache.evict(key_id)
        if erased.notice is not None:
            send_mail(runtime, erased.notice)
        deleted += 1
        log.info("workspace %s deleted", tenant_hash(tenant_id))
    if failed:
        raise DeletionFailed(f"{failed} of {len(due)} due workspaces were not deleted")
    return deleted


def _erase(engine: Engine, tenant_id: uuid.UUID, now: datetime) -> Erased | None:
    """Delete one tenant in one transaction; its DEK ids and the notice to send once
    committed, or None if no longer due."""
    with engine.begin() as connection:
        bound = {"t": str(tenant_id)}
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), bound)
        requested = connection.execute(text(CLAIM), {**bound, "now": now}).scalars().all()
        if not requested:
            return None  # cancelled (or deleted) since it was listed
        key_ids = list(
            connection.execute(text("SELECT id FROM data_keys WHERE tenant_id = :t"), bound)
            .scalars()
            .all()
        )
        deleted_at = datetime.now(UTC)
        notice = prepare_deleted_notice(connection, deleted_at)  # before the rows go
        counts = _delete_rows(connection, bound)
        counts["deletion_requests"] = counts.get("deletion_requests", 0) + len(requested)
        connection.execute(
            text(TOMBSTONE),
            {
                "id": uuid.uuid4(),
                "hash": tenant_hash(tenant_id),
                "requested_at": min(requested),
                "deleted_at": deleted_at,
                "counts": json.dumps(counts, sort_keys=True),
            },
        )
    return Erased(key_ids, notice)


def _delete_rows(connection: Connection, bound: dict[str, str]) -> dict[str, int]:
    """DELETE the tenant's rows from every tenant table, child first; rows per table."""
    counts: dict[str, int] = {}
    for table, column in tenant_tables(connection):
        # Names come from the catalog and are quoted; the tenant is a bound parameter.
        statement = f"DELETE FROM {quote(table)} WHERE {quote(column)} = :t"  # noqa: S608
        result = connection.execute(text(statement), bound)
        counts[table] = result.rowcount
    return counts
