"""Retention: per-workspace windows within the platform maxima, and the daily purge.

Windows (columns of ``tenants``, migration 0007, which CHECKs the same maxima):
raw Jira responses ``raw_response_days`` (0..30, 0 = none kept), detailed sync logs
``sync_log_days`` (1..90) and ``sync_logs_enabled``. Switching logs off keeps the link
metadata and each attempt's minimal row; only the detailed part goes. Beside them,
``seal_sync_logs`` (migration 0011) stores the detailed part sealed under the tenant's
log key; like the others it reaches every process within the log-policy cache's few
seconds (models/log_policy.py).

``purge_expired`` runs as the maintenance role. Per tenant, each batch is one short
transaction with ``app.tenant_id`` set to that tenant (so RLS confines it), and it
repeats until a batch comes back short. Only rows strictly older than the cutoff are
touched, and blanked details are not blanked again, so a re-run removes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from models.audit import record_audit
from models.tenants import RAW_RESPONSE_DAYS, SYNC_LOG_DAYS, Tenant
from runtime import Runtime

log = logging.getLogger(__name__)

TENANTS = "SELECT id, raw_response_days, sync_log_days, sync_logs_enabled FROM tenants ORDER BY id"
# Each statement picks at most :n rows of the tenant by id, then acts on exactly those.
PURGES = {
    "raw_responses": (
        "DELETE FROM raw_responses WHERE id IN (SELECT id FROM raw_responses "
        "WHERE tenant_id = :t AND created_at < :cutoff ORDER BY id LIMIT :n)"
    ),
    "sync_attempts": (
        "UPDATE sync_attempts SET details = '{}'::jsonb, error = NULL, sealed_details = NULL, "
        "seal_id = NULL WHERE id IN (SELECT id FROM sync_attempts WHERE tenant_id = :t "
        "AND created_at < :cutoff AND (details <> '{}'::jsonb OR error IS NOT NULL "
        "OR sealed_details IS NOT NULL) ORDER BY id LIMIT :n)"
    ),
    "webhook_events": (
        "DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events "
        "WHERE tenant_id = :t AND status IN ('processed', 'skipped') "
        "AND received_at < :cutoff ORDER BY id LIMIT :n)"
    ),
}


class RetentionError(ValueError):
    """A retention setting outside the platform maxima (the message names the field)."""


class RetentionFailed(RuntimeError):
    """Some tenants could not be purged (each batch rolled back; retried next run)."""


@dataclass(frozen=True)
class RetentionSettings:
    """One workspace's retention windows."""

    raw_response_days: int
    sync_log_days: int
    sync_logs_enabled: bool
    seal_sync_logs: bool = False


def _check_days(field: str, value: object, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RetentionError(f"{field} must be a whole number of days from {low} to {high}")
    return value


def get_retention(session: Session) -> RetentionSettings:
    """The session's tenant's retention settings."""
    tenant = session.get(Tenant, session.info["tenant_id"])
    if tenant is None:
        raise LookupError("the session's tenant has no tenants row")
    return RetentionSettings(
        tenant.raw_response_days,
        tenant.sync_log_days,
        tenant.sync_logs_enabled,
        tenant.seal_sync_logs,
    )


def set_retention(
    session: Session,
    raw_response_days: int | None = None,
    sync_log_days: int | None = None,
    sync_logs_enabled: bool | None = None,
    actor: str = "system",
    seal_sync_logs: bool | None = None,
) -> RetentionSettings:
    """Validate and store the given settings (None = unchanged) and audit the change."""
    changes: dict[str, int | bool] = {}
    if raw_response_days is not None:
        changes["raw_response_days"] = _check_days(
            "raw_response_days", raw_response_days, RAW_RESPONSE_DAYS
        )
    if sync_log_days is not None:
        changes["sync_log_days"] = _check_days("sync_log_days", sync_log_days, SYNC_LOG_DAYS)
    for name, switch in (
        ("sync_logs_enabled", sync_logs_enabled),
        ("seal_sync_logs", seal_sync_logs),
    ):
        if switch is not None:
            if not isinstance(switch, bool):
                raise RetentionError(f"{name} must be true or false")
            changes[name] = switch
    tenant = session.get(Tenant, session.info["tenant_id"])
    if tenant is None:
        raise LookupError("the session's tenant has no tenants row")
    for name, value in changes.items():
        setattr(tenant, name, value)
    session.flush()
    if changes:
        record_audit(session, tenant.id, actor, "retention.updated", subject=None, **changes)
    return get_retention(session)


def purge_expired(
    runtime: Runtime, now: datetime | None = None, batch: int = 1000
) -> dict[str, dict[str, int]]:
    """Purge every tenant's rows past its windows; {tenant id: {table: rows}} for the
    tenants that had something removed (each of them also gets a retention.purged event)."""
    now = now or datetime.now(UTC)
    engine = runtime.maintenance_engine()
    with engine.connect() as connection:
        tenants = connection.execute(text(TENANTS)).all()
    removed: dict[str, dict[str, int]] = {}
    failed = 0
    for tenant_id, raw_days, log_days, logs_on in tenants:
        log_cutoff = now - timedelta(days=log_days) if logs_on else now
        cutoffs = {
            "raw_responses": now - timedelta(days=raw_days),
            "sync_attempts": log_cutoff,
            "webhook_events": now - timedelta(days=log_days),
        }
        try:
            counts = _purge_tenant(engine, tenant_id, cutoffs, batch)
        except Exception:
            failed += 1
            log.exception("retention purge of tenant %s failed", tenant_id)
            continue
        if any(counts.values()):
            with runtime.db.tenant_session(tenant_id) as session:
                record_audit(session, tenant_id, "system", "retention.purged", rows=counts)
            removed[str(tenant_id)] = counts
    if failed:
        raise RetentionFailed(f"{failed} of {len(tenants)} tenants were not purged")
    return removed


def _purge_tenant(
    engine: Engine, tenant_id: uuid.UUID, cutoffs: dict[str, datetime], batch: int
) -> dict[str, int]:
    """Run each purge in batches of ``batch`` rows until one comes back short."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    counts = dict.fromkeys(PURGES, 0)
    for table, statement in PURGES.items():
        while True:
            with engine.begin() as connection:
                connection.execute(
                    text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
                )
                params = {"t": tenant_id, "cutoff": cutoffs[table], "n": batch}
                done = connection.execute(text(statement), params).rowcount
            counts[table] += done
            if done < batch:
                break
    return counts
