"""What a tenant's sync jobs log, cached per process for a few seconds.

Every sync attempt needs the tenant's log switches and the id of its log key; reading
them per attempt would cost a round trip on the hottest path, so each process keeps
them for ``POLICY_CACHE_SECONDS``. A change of setting therefore reaches every process
within that time. Switching sealing on is safe even before then: ``record_attempt``
re-checks the switch inside its INSERT and drops (never stores) plaintext details while
a process still has sealing off cached (models/sync_attempts.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from auth.installation_cache import TtlCache
from keys.data_keys import KeyService
from keys.log_key import ensure_log_key, live_log_key
from models.db import Database
from models.tenants import Tenant

POLICY_CACHE_SECONDS = 5


@dataclass(frozen=True)
class LogPolicy:
    """One tenant's log settings as the sync jobs apply them."""

    logs_enabled: bool
    seal_logs: bool
    raw_response_days: int
    log_key_id: uuid.UUID | None  # set whenever sealing or raw responses need it

    @property
    def keeps_raw_responses(self) -> bool:
        return self.raw_response_days > 0 and self.log_key_id is not None

    @property
    def seals_logs(self) -> bool:
        return self.seal_logs and self.log_key_id is not None


NOTHING_KEPT = LogPolicy(False, False, 0, None)


class LogPolicies:
    """Each tenant's LogPolicy, loaded (and its log key created) on first use."""

    def __init__(
        self, db: Database, keys: KeyService, ttl_seconds: float = POLICY_CACHE_SECONDS
    ) -> None:
        self.db = db
        self.keys = keys
        self._cache: TtlCache[LogPolicy] = TtlCache(ttl_seconds)

    def get(self, tenant_id: uuid.UUID) -> LogPolicy:
        """The tenant's policy (nothing kept for a tenant that has no row)."""
        policy = self._cache.get_or_load(str(tenant_id), lambda _key: self._load(tenant_id))
        return policy or NOTHING_KEPT

    def forget(self, tenant_id: uuid.UUID) -> None:
        """Drop the cached policy (this process reads it again on next use)."""
        self._cache.forget(str(tenant_id))

    def _load(self, tenant_id: uuid.UUID) -> LogPolicy | None:
        """One statement reads the switches and the log key; the key is created (once
        per tenant, ever) when a switch needs it and there is none."""
        with self.db.tenant_session(tenant_id) as session:
            row = session.execute(
                select(
                    Tenant.sync_logs_enabled,
                    Tenant.seal_sync_logs,
                    Tenant.raw_response_days,
                    live_log_key().scalar_subquery(),
                ).where(Tenant.id == tenant_id)
            ).one_or_none()
            if row is None:
                return None
            logs_on, seal, raw_days, key_id = row
            if key_id is None and (seal or raw_days > 0):
                key_id = ensure_log_key(session, self.keys)
            return LogPolicy(logs_on, seal, raw_days, key_id)
