"""The tenant's log key: one DEK per tenant (owner_kind ``tenant_log``) that seals its
detailed sync logs and the raw Jira responses it keeps.

It is created on first need. A partial unique index (migration 0011) allows one live
log key per tenant, so when two workers both find none and both create one, the second
INSERT waits for the first to commit and then fails; it fails inside a savepoint, and
that worker takes the key the first one made. Account deletion removes it with the
tenant's other DEKs (compliance/deletion.py).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys.data_keys import KeyService
from models.data_keys import DataKeyRecord

LOG_KEY_OWNER = "tenant_log"


def live_log_key() -> Select[tuple[uuid.UUID]]:
    """SELECT of the id of the tenant's live log key (RLS names the tenant)."""
    return select(DataKeyRecord.id).where(
        DataKeyRecord.owner_kind == LOG_KEY_OWNER, DataKeyRecord.destroyed_at.is_(None)
    )


def find_log_key(session: Session) -> uuid.UUID | None:
    """The id of the session's tenant's live log key, if it has one."""
    return session.execute(live_log_key()).scalar_one_or_none()


def ensure_log_key(session: Session, keys: KeyService) -> uuid.UUID:
    """The tenant's log key id, creating the key if there is none (race-free)."""
    found = find_log_key(session)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            return keys.create(session, session.info["tenant_id"], LOG_KEY_OWNER, None).key_id
    except IntegrityError:
        found = find_log_key(session)  # another worker created it and committed first
        if found is None:
            raise
        return found
