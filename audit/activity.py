"""What Tandem did, as the activity page reads it: sync attempts and audit events of one
workspace, newest first, filtered (integration, outcome, action, date range) and paged
by keyset: a page ends with a cursor naming its last row's (time, id), and the next
page starts strictly after it, so paging stays cheap and stable while rows are added.
Pages hold at most ``MAX_PAGE_SIZE`` rows."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select, tuple_

from keys.aead import InvalidCiphertext
from models.audit import AuditEvent
from models.integrations import Integration
from models.sync_attempts import OUTCOMES, SyncAttempt, attempt_details
from runtime import Runtime
from sync.error_words import error_words, outcome_words

KINDS = ("attempts", "events")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
ACTION = re.compile(r"[a-z][a-z0-9_.:-]{0,63}\*?")
CURSOR = re.compile(r"(\d{1,19})~(\d{1,19})")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
UNREADABLE = "(sealed; it can no longer be opened)"


class BadFilter(ValueError):
    """A filter Tandem cannot use; ``field`` is the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: its last row's time and id."""

    at: datetime
    id: int

    def encode(self) -> str:
        return f"{(self.at - EPOCH) // MICROSECOND}~{self.id}"  # exact, unlike a float

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        found = CURSOR.fullmatch(raw)
        broken = BadFilter("after", "that page link is broken: start from the first page")
        if found is None or int(found[2]) >= 2**63:
            raise broken
        try:
            return cls(EPOCH + int(found[1]) * MICROSECOND, int(found[2]))
        except OverflowError:
            raise broken from None


@dataclass(frozen=True)
class ActivityFilter:
    """What the page asks for."""

    kind: str = "attempts"
    integration_id: uuid.UUID | None = None
    outcome: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None
    after: Cursor | None = None
    size: int = DEFAULT_PAGE_SIZE

    def query(self) -> dict[str, str]:
        """The filter as query parameters (without the cursor)."""
        values = {
            "kind": self.kind,
            "integration": str(self.integration_id or ""),
            "outcome": self.outcome or "",
            "action": self.action or "",
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
            "size": str(self.size) if self.size != DEFAULT_PAGE_SIZE else "",
        }
        return {k: v for k, v in values.items() if v}


def _date(args: Mapping[str, str], name: str) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(name, "a date such as 2026-01-31") from None


def parse_filter(args: Mapping[str, str]) -> ActivityFilter:
    """The filter from the page's query; BadFilter names the field it cannot use."""
    kind = args.get("kind") or "attempts"
    if kind not in KINDS:
        raise BadFilter("kind", "sync attempts or audit events")
    integration = (args.get("integration") or "").strip()
    try:
        integration_id = uuid.UUID(integration) if integration else None
    except ValueError:
        raise BadFilter("integration", "choose an integration from the list") from None
    outcome = (args.get("outcome") or "").strip() or None
    if outcome is not None and outcome not in OUTCOMES:
        raise BadFilter("outcome", f"one of {', '.join(OUTCOMES)}")
    action = (args.get("action") or "").strip() or None
    if action is not None and not ACTION.fullmatch(action):
        raise BadFilter("action", "an action such as integration.created (end with * for a prefix)")
    since, until = _date(args, "from"), _date(args, "to")
    if since and until and until < since:
        raise BadFilter("to", "the end of the range is before its start")
    raw_size = (args.get("size") or "").strip()
    if raw_size and (not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE_SIZE):
        raise BadFilter("size", f"a page size from 1 to {MAX_PAGE_SIZE}")
    after = Cursor.decode(args["after"]) if args.get("after") else None
    return ActivityFilter(
        kind,
        integration_id,
        outcome,
        action,
        since,
        until,
        after,
        int(raw_size) if raw_size else DEFAULT_PAGE_SIZE,
    )


@dataclass(frozen=True)
class AttemptRow:
    id: int
    at: datetime
    integration: str
    issue_key: str
    action: str
    outcome: str
    outcome_words: str
    error: str | None
    api_calls: int
    duration_ms: int
    attempt: int


@dataclass(frozen=True)
class EventRow:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: str


@dataclass(frozen=True)
class Page:
    """One page of rows, and the cursor of the next page (None on the last)."""

    rows: list[Any]
    next_after: str | None


def _bounded(query: Select, flt: ActivityFilter, at: Any, row_id: Any, action: Any) -> Select:
    if flt.action:
        query = query.where(
            action.startswith(flt.action[:-1], autoescape=True)
            if flt.action.endswith("*")
            else action == flt.action
        )
    if flt.since:
        query = query.where(at >= datetime.combine(flt.since, time(), UTC))
    if flt.until:
        query = query.where(at < datetime.combine(flt.until + timedelta(days=1), time(), UTC))
    if flt.after:
        query = query.where(tuple_(at, row_id) < tuple_(flt.after.at, flt.after.id))
    return query.order_by(at.desc(), row_id.desc()).limit(flt.size + 1)


def _page(rows: list[Any], size: int, at: str) -> tuple[list[Any], str | None]:
    more = len(rows) > size
    rows = rows[:size]
    last = rows[-1] if more and rows else None
    return rows, Cursor(getattr(last, at), last.id).encode() if last is not None else None


def attempts_page(runtime: Runtime, tenant_id: uuid.UUID, flt: ActivityFilter) -> Page:
    """Sync attempts, newest first; sealed details are opened for the page."""
    query = select(SyncAttempt)
    if flt.integration_id:
        query = query.where(SyncAttempt.integration_id == flt.integration_id)
    if flt.outcome:
        query = query.where(SyncAttempt.outcome == flt.outcome)
    query = _bounded(query, flt, SyncAttempt.created_at, SyncAttempt.id, SyncAttempt.action)
    with runtime.db.tenant_session(tenant_id) as session:
        rows, next_after = _page(list(session.execute(query).scalars()), flt.size, "created_at")
        names = dict(session.execute(select(Integration.id, Integration.name)).all())
        shown = []
        for row in rows:
            try:
                _details, error = attempt_details(session, runtime.keys, row)
            except InvalidCiphertext:  # altered, moved, or its key destroyed
                error = UNREADABLE
            shown.append(
                AttemptRow(
                    id=row.id,
                    at=row.created_at,
                    integration=names.get(row.integration_id, "—") if row.integration_id else "—",
                    issue_key=row.issue_key or "",
                    action=row.action,
                    outcome=row.outcome,
                    outcome_words=outcome_words(row.outcome, bool(error)),
                    error=error_words(error) if error != UNREADABLE else error,
                    api_calls=row.api_calls,
                    duration_ms=row.duration_ms,
                    attempt=row.attempt,
                )
            )
    return Page(shown, next_after)


def events_page(runtime: Runtime, tenant_id: uuid.UUID, flt: ActivityFilter) -> Page:
    """Audit events, newest first (the integration filter matches their subject)."""
    query = select(AuditEvent)
    if flt.integration_id:
        query = query.where(AuditEvent.subject == str(flt.integration_id))
    query = _bounded(query, flt, AuditEvent.occurred_at, AuditEvent.id, AuditEvent.action)
    with runtime.db.tenant_session(tenant_id) as session:
        rows, next_after = _page(list(session.execute(query).scalars()), flt.size, "occurred_at")
        shown = [
            EventRow(
                id=row.id,
                at=row.occurred_at,
                actor=row.actor,
                action=row.action,
                subject=row.subject or "",
                details=json.dumps(row.details, sort_keys=True, separators=(", ", ": "))
                if row.details
                else "",
            )
            for row in rows
        ]
    return Page(shown, next_after)


def activity_page(runtime: Runtime, tenant_id: uuid.UUID, flt: ActivityFilter) -> Page:
    """The page of the filter's kind."""
    reader = attempts_page if flt.kind == "attempts" else events_page
    return reader(runtime, tenant_id, flt)
