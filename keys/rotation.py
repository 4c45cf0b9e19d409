"""KEK rotation: re-wrap every DEK under the current KEK without touching sealed data."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import Engine, text

from keys.data_keys import KeyService
from models.db import Database


def dek_counts_by_kek(maintenance_engine: Engine) -> dict[str, int]:
    """How many live DEKs each KEK id still wraps (the maintenance role's inventory)."""
    with maintenance_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT kek_id, count(*) FROM data_keys "
                "WHERE destroyed_at IS NULL GROUP BY kek_id ORDER BY kek_id"
            )
        )
        return {kek_id: count for kek_id, count in rows}


def _stale_keys(maintenance_engine: Engine, current: str) -> dict[uuid.UUID, list[uuid.UUID]]:
    with maintenance_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT tenant_id, id FROM data_keys "
                "WHERE destroyed_at IS NULL AND kek_id <> :current ORDER BY tenant_id, id"
            ),
            {"current": current},
        )
        stale: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for tenant_id, key_id in rows:
            stale[tenant_id].append(key_id)
    return stale


def rotate(
    db: Database,
    maintenance_engine: Engine,
    keys: KeyService,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Re-wrap every DEK not under the current KEK, one tenant transaction at a time.

    Idempotent and resumable: a re-run picks up whatever is still stale. Returns how
    many DEKs were re-wrapped.
    """
    stale = _stale_keys(maintenance_engine, keys.kek.current_id())
    total = sum(len(ids) for ids in stale.values())
    done = 0
    for tenant_id, key_ids in stale.items():
        with db.tenant_session(tenant_id) as session:
            for key_id in key_ids:
                done += keys.rewrap(session, key_id)
        if progress:
            progress(done, total)
    return done
