"""Each place Tandem may hold an Atlassian account's personal data, and how it is cleared
there (docs/DATA.md, "Personal data of Jira users", says the same in words).

Database work runs in the tenant's own transactions: as the app role where it has the
rights, as the maintenance role (bound to the tenant, under RLS) for the append-only
sync-attempt details and the raw responses. Redis work touches only keys of the tenant's
own sites and ends.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import Text, cast, func, or_, select, text
from sqlalchemy.orm import Session

from compliance.personal_data_payloads import ERASED, mentions, redact
from keys.aead import InvalidCiphertext
from models.accounts import Membership
from models.audit import AuditEvent
from models.connections import Connection
from models.installations import Installation
from models.integrations import Integration
from models.links import CommentLink
from models.sync_attempts import SyncAttempt, attempt_details
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sync.sites import app_account_key

# Account ids are written into JSON text by a plain replace(): only ids made of these
# characters (every Atlassian id form is) can be, as they need no JSON escaping.
PLAIN_ID = re.compile(r"^[A-Za-z0-9:._-]+$")
PEOPLE_KEYS = "tandem:people:"
SCAN_COUNT = 500
SEALED_PAGE = 500
_SYNC_LOGS = (
    "UPDATE sync_attempts SET details = replace(details::text, :a, :erased)::jsonb, "
    "error = replace(error, :a, :erased) "
    "WHERE tenant_id = :t AND (strpos(details::text, :a) > 0 OR strpos(error, :a) > 0)"
)
_RAW_RESPONSES = "DELETE FROM raw_responses WHERE tenant_id = :t"
_BLANK_SEALED = (
    "UPDATE sync_attempts SET sealed_details = NULL, seal_id = NULL "
    "WHERE tenant_id = :t AND id = ANY(:ids)"
)


def _strpos_any(column: Any, accounts: set[str]) -> Any:
    return or_(*[func.strpos(column, account) > 0 for account in sorted(accounts)])


def erase_mappings(session: Session, accounts: set[str]) -> int:
    """Drop the accounts from every integration's people mapping (either side) and as its
    default assignee; how many integrations changed."""
    changed = 0
    for integration in session.execute(select(Integration)).scalars():
        config = dict(integration.config or {})
        mappings = dict(config.get("mappings") or {})
        users = mappings.get("users") or {}
        kept = {k: v for k, v in users.items() if k not in accounts and v not in accounts}
        default = mappings.get("default_assignee")
        if kept == users and default not in accounts:
            continue
        mappings["users"] = kept
        if default in accounts:
            mappings["default_assignee"] = None
        integration.config = {**config, "mappings": mappings}
        changed += 1
    return changed


def erase_memberships(session: Session, accounts: set[str]) -> int:
    """Delete the workspace roles of the accounts (each row served only that account)."""
    doomed = session.execute(
        select(Membership).where(Membership.atlassian_account_id.in_(sorted(accounts)))
    ).scalars()
    removed = 0
    for membership in doomed:
        session.delete(membership)
        removed += 1
    return removed


def redact_payloads(session: Session, accounts: set[str], erase: bool) -> tuple[int, int]:
    """Remove the accounts' personal data from every handled webhook payload naming them
    (personal_data_payloads.redact); (payloads changed, pending payloads left alone: their
    job still needs them as received, so the next run comes back for them)."""
    changed = pending = 0
    rows = session.execute(
        select(WebhookEvent).where(_strpos_any(cast(WebhookEvent.payload, Text), accounts))
    ).scalars()
    for event in rows:
        if event.status == "pending":
            pending += 1
            continue
        cleaned = redact(event.payload, accounts, erase)
        if cleaned != event.payload:
            event.payload = cleaned
            changed += 1
    return changed, pending


def forget_authors(session: Session, link_ids: list[uuid.UUID]) -> None:
    """Clear the author of comment links whose copies no longer name them."""
    for link_id in link_ids:
        link = session.get(CommentLink, link_id)
        if link is not None:
            link.author_account_id = None


def audit_mentions(session: Session, accounts: set[str]) -> int:
    """Audit rows naming an account (as the subject of a role given to a Jira user, or an
    actor). The trail is append-only and hash-chained, so they are counted, not changed."""
    fields = (cast(AuditEvent.details, Text), AuditEvent.actor, AuditEvent.subject)
    return session.execute(
        select(func.count())
        .select_from(AuditEvent)
        .where(or_(*[_strpos_any(f, accounts) for f in fields]))
    ).scalar_one()


def _as_maintenance(runtime: Runtime, tenant_id: uuid.UUID, sql: str, **params: Any) -> int:
    """One statement as the maintenance role in a transaction bound to the tenant."""
    with runtime.maintenance_engine().begin() as connection:
        connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
        )
        return connection.execute(text(sql), {"t": tenant_id, **params}).rowcount


def erase_sync_logs(runtime: Runtime, tenant_id: uuid.UUID, accounts: set[str]) -> int:
    """Replace the account ids in the detailed part of sync attempts (Jira's error texts
    may name an account) by ``erased``; rows changed."""
    return sum(
        _as_maintenance(runtime, tenant_id, _SYNC_LOGS, a=account, erased=ERASED)
        for account in sorted(accounts)
        if PLAIN_ID.match(account)
    )


def erase_sealed_logs(runtime: Runtime, tenant_id: uuid.UUID, accounts: set[str]) -> int:
    """Drop the sealed detailed part of sync attempts naming an account (the minimal row
    stays). Only the tenant's log key reads them, so each is opened to look; one that no
    longer opens cannot be read by anyone and is left to retention."""
    doomed: list[int] = []
    last = 0
    while True:
        with runtime.db.tenant_session(tenant_id) as session:
            rows = list(
                session.execute(
                    select(SyncAttempt)
                    .where(SyncAttempt.sealed_details.is_not(None), SyncAttempt.id > last)
                    .order_by(SyncAttempt.id)
                    .limit(SEALED_PAGE)
                ).scalars()
            )
            for row in rows:
                try:
                    opened = attempt_details(session, runtime.keys, row)
                except InvalidCiphertext:
                    continue
                if mentions(list(opened), accounts):
                    doomed.append(row.id)
        if len(rows) < SEALED_PAGE:
            break
        last = rows[-1].id
    return _as_maintenance(runtime, tenant_id, _BLANK_SEALED, ids=doomed) if doomed else 0


def delete_raw_responses(runtime: Runtime, tenant_id: uuid.UUID) -> int:
    """Delete the tenant's raw Jira responses: they are sealed, so they cannot be searched
    for an account without opening each, and they serve diagnosis only."""
    return _as_maintenance(runtime, tenant_id, _RAW_RESPONSES)


def _glob(text_: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text_)


def drop_cached(runtime: Runtime, session: Session, accounts: set[str]) -> int:
    """Delete the Redis entries naming the accounts for the tenant's sites and ends: the
    cross-site people matches (sync/people.py) and the account our writes appear as
    (sync/sites.py). Both expire within a day anyway; keys deleted."""
    sites = {*session.execute(select(Installation.base_url)).scalars()}
    sites |= {*session.execute(select(Connection.site_url)).scalars()}
    ends = [*session.execute(select(Installation.id)).scalars()]
    ends += [*session.execute(select(Connection.id)).scalars()]
    doomed: list[bytes | str] = []
    for site in sorted(sites):
        pattern = f"{PEOPLE_KEYS}{_glob(site)}:*"
        keys = list(runtime.redis.scan_iter(match=pattern, count=SCAN_COUNT))
        values = runtime.redis.mget(keys) if keys else []
        for key, value in zip(keys, values, strict=True):
            origin_named = any(key.decode().endswith(f":{a}") for a in accounts)
            if origin_named or (value is not None and value.decode() in accounts):
                doomed.append(key)
    app_keys = [app_account_key(end) for end in ends]
    values = runtime.redis.mget(app_keys) if app_keys else []
    doomed += [k for k, v in zip(app_keys, values, strict=True) if v and v.decode() in accounts]
    return int(runtime.redis.delete(*doomed)) if doomed else 0
