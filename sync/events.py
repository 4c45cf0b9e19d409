"""What a webhook event job does: mark the inbox row done and ask for a reconcile of the
issue in every integration the sender's project feeds. The sender is an installation
(Connect webhooks) or a connection (dynamic webhooks of an OAuth-connected site)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.connections import Connection
from models.installations import Installation
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sync.accounts_seen import note_payload_accounts
from sync.dispatch import (
    RETRY,
    enqueue_reconcile,
    integrations_for_event,
    note_change,
    scopes_for,
)
from sync.reconcile import run_reconcile
from sync.sites import is_own_change

ACTIVE_INSTALLATION = ("installed", "enabled")
log = logging.getLogger(__name__)


def handle_webhook_event(runtime: Runtime, tenant_id: uuid.UUID, event_id: uuid.UUID) -> str:
    """Process one inbox row exactly once; returns the outcome in a word."""
    with runtime.db.tenant_session(tenant_id) as session:
        event = session.execute(
            select(WebhookEvent)
            .where(WebhookEvent.id == event_id)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if event is None:
            return "busy"  # another worker holds it, or it is gone with its tenant
        if event.status in ("processed", "skipped"):
            return "already-done"
        kind, end_id = _sender(event)
        note_payload_accounts(session, kind, end_id, event.payload)
        event.job_runs += 1
        event.status = "processed" if _active(session, kind, end_id) else "skipped"
        event.processed_at = func.now()
        targets = (
            integrations_for_event(session, end_id, _project_key(event.payload), kind)
            if event.status == "processed"
            else []
        )
        issue_id = (event.payload.get("issue") or {}).get("id")
        payload = event.payload
        outcome = event.status
    scopes = scopes_for(payload)
    if not issue_id or not scopes or is_own_change(runtime, end_id, payload):
        return outcome  # nothing to do, or Tandem's own write (its reconcile stored it)
    for integration_id, side in targets:
        if note_change(runtime, integration_id, issue_id, side, scopes, payload):
            _reconcile_now(runtime, tenant_id, integration_id, side, issue_id)
    return outcome


def _reconcile_now(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID, side: str, issue_id: str
) -> None:
    """Reconcile inside this event job (a reconcile job of its own would cost another trip
    through the queue); if it fails, a reconcile job takes over with RQ's retries."""
    try:
        run_reconcile(runtime, tenant_id, integration_id, side, issue_id)
    except Exception as error:  # recorded in sync_attempts; retried with back-off
        log.info(
            "reconcile of %s in integration %s: retrying (%s)", issue_id, integration_id, error
        )
        enqueue_reconcile(
            runtime,
            tenant_id,
            integration_id,
            side,
            issue_id,
            first_attempt=2,
            delay=timedelta(seconds=RETRY.intervals[0]),
        )


def _sender(event: WebhookEvent) -> tuple[str, uuid.UUID]:
    """Who sent the event: ("installation", id) or ("connection", id)."""
    if event.installation_id is not None:
        return "installation", event.installation_id
    assert event.connection_id is not None  # the table's CHECK holds exactly one
    return "connection", event.connection_id


def _active(session: Session, kind: str, end_id: uuid.UUID) -> bool:
    if kind == "installation":
        status = session.execute(
            select(Installation.status).where(Installation.id == end_id)
        ).scalar_one()
        return status in ACTIVE_INSTALLATION
    status = session.execute(select(Connection.status).where(Connection.id == end_id)).scalar_one()
    return status == "active"


def _project_key(payload: dict[str, Any]) -> str | None:
    fields = (payload.get("issue") or {}).get("fields") or {}
    return (fields.get("project") or {}).get("key")
