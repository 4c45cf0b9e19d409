"""RQ jobs: thin wrappers that carry the tenant explicitly and call plain functions."""

from __future__ import annotations

import uuid

from models.db import as_tenant_id
from runtime import process_runtime
from sync.events import handle_webhook_event
from sync.inbox import sweep_pending


def process_webhook_event(tenant_id: str, event_id: str) -> str:
    """Job: process one inbox event. Refuses to run without a tenant."""
    return handle_webhook_event(process_runtime(), as_tenant_id(tenant_id), uuid.UUID(event_id))


def sweep_webhook_inbox() -> int:
    """Clock job: enqueue events Redis missed."""
    return sweep_pending(process_runtime())
