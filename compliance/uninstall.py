"""Uninstall: stop all sync of the workspace at once, mark the installation uninstalled
(which schedules the workspace's deletion after the 7-day grace period), and start the
workspace clean-up on every site Tandem can still reach: the OAuth-connected ones. The
installed site itself is never called again (Atlassian no longer accepts our calls
there); the run records it as unreachable. The run then disconnects every connection.

A re-install within the grace period cancels the deletion but does not undo any of this:
integrations stay disabled and disconnected sites stay disconnected until an admin
connects and enables them again.
"""

from __future__ import annotations

import logging
import uuid

import redis
from sqlalchemy import select, text, update

from compliance.cleanup_jobs import start_cleanup
from compliance.cleanup_runs import FINAL, WORKSPACE, active_key, load_spec, run_status
from models.audit import record_audit
from models.connections import Connection
from models.installations import Installation
from models.integrations import Integration
from models.lifecycle import CLIENT_KEY, set_status
from runtime import Runtime

log = logging.getLogger(__name__)
ACTOR = "atlassian"


def stop_all_sync(runtime: Runtime, tenant_id: uuid.UUID, actor: str) -> list[uuid.UUID]:
    """Disable every integration of the workspace in one transaction (audited); jobs
    already queued find them disabled and skip. Returns the integrations it disabled."""
    with runtime.db.tenant_session(tenant_id) as session:
        stopped = list(
            session.execute(
                update(Integration)
                .where(Integration.enabled.is_(True))
                .values(enabled=False)
                .returning(Integration.id)
            ).scalars()
        )
        record_audit(
            session,
            tenant_id,
            actor,
            "workspace.sync_stopped",
            integrations=[str(i) for i in sorted(stopped)],
        )
    return stopped


def start_uninstall_cleanup(runtime: Runtime, tenant_id: uuid.UUID) -> str | None:
    """The workspace clean-up of an uninstall, taking over from any run under way; its
    run id, or None if Redis is unreachable (``restart_uninstall_cleanups`` catches up)."""
    try:
        current = runtime.redis.get(active_key(tenant_id))
        spec = load_spec(runtime.redis, current.decode()) if current else None
        repeated = spec is not None and spec.cause == "uninstall"  # Atlassian retried
        if spec is not None and repeated and run_status(runtime.redis, spec.run_id) not in FINAL:
            return spec.run_id
        run_id, _ = start_cleanup(
            runtime,
            tenant_id,
            WORKSPACE,
            dry_run=False,
            actor=ACTOR,
            cause="uninstall",
            skip_installations=True,
            supersede=True,
        )
    except (redis.ConnectionError, redis.TimeoutError):
        log.warning(
            "redis unreachable: the uninstall clean-up of %s waits for the clock", tenant_id
        )
        return None
    return run_id


def on_uninstalled(runtime: Runtime, client_key: str) -> str | None:
    """The ``uninstalled`` lifecycle: stop sync, mark uninstalled (deletion scheduled),
    start the clean-up. The clean-up's run id (None for an unknown clientKey)."""
    tenant_id = runtime.db.directory_lookup(CLIENT_KEY, client_key)
    if tenant_id is None:
        return None
    stop_all_sync(runtime, tenant_id, ACTOR)
    set_status(runtime.db, client_key, "uninstalled")
    return start_uninstall_cleanup(runtime, tenant_id)


def restart_uninstall_cleanups(runtime: Runtime) -> list[uuid.UUID]:
    """Clock job (hourly): a workspace whose installations are all uninstalled but that
    still has connections not disconnected, and no clean-up under way, gets its uninstall
    clean-up (started again after Redis was down, or after a run gave up)."""
    with runtime.maintenance_engine().connect() as connection:
        tenants = [row[0] for row in connection.execute(text("SELECT id FROM tenants"))]
    started = []
    for tenant_id in tenants:
        if runtime.redis.exists(active_key(tenant_id)):
            continue
        with runtime.db.tenant_session(tenant_id) as session:
            statuses = set(session.execute(select(Installation.status)).scalars())
            left = session.execute(
                select(Connection.id).where(Connection.status != "disconnected").limit(1)
            ).first()
        gone = statuses == {"uninstalled"} and left is not None
        if gone and start_uninstall_cleanup(runtime, tenant_id) is not None:
            started.append(tenant_id)
    return started
