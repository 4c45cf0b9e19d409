"""RQ job for the daily retention purge."""

from __future__ import annotations

from compliance.retention import purge_expired
from runtime import process_runtime


def purge_expired_job() -> dict[str, dict[str, int]]:
    """Clock job: a cross-tenant maintenance sweep, so it carries no tenant. It reads each
    tenant's windows itself and purges each tenant in transactions bound to that one
    tenant (compliance/retention.py)."""
    return purge_expired(process_runtime())
