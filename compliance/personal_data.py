"""Atlassian personal-data reporting: once a week, tell Atlassian which accounts Tandem
holds personal data of and since when, and act on the answer.

Per tenant: the open ``atlassian_accounts`` rows are grouped by the end that reports
them (personal_data_clients.py), each account once per group with the oldest
``refreshed_at`` as ``updatedAt``, and sent in batches of at most 90 through the Jira
client (which honours 429 and Retry-After). Atlassian lists only the accounts needing
action. ``closed``: the account's rows are marked closed, its personal data is erased
everywhere (personal_data_actions.py) and, once every step is done, its rows go;
until then the next run erases again without reporting it. ``updated``: what Tandem
holds is refreshed and ``refreshed_at`` set to the run's start. Every run with
accounts to report is audited with counts only, never an account id.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, text, update

from compliance.personal_data_actions import erase_accounts, refresh_accounts
from compliance.personal_data_clients import End, Reporters
from jira.client import JiraClient
from jira.errors import JiraError
from jira.meter import CallMeter
from models.atlassian_accounts import AtlassianAccount, note_members
from models.audit import record_audit
from runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 90
DEFAULT_CYCLE_DAYS = 7
STATUSES = ("closed", "updated")


@dataclass(frozen=True)
class Stored:
    """One ``atlassian_accounts`` row as a run sees it."""

    account_id: str
    end: End
    refreshed_at: datetime
    closed: bool


@dataclass
class ReportResult:
    """What one tenant's run did, in counts (what its audit event records)."""

    accounts: int = 0
    reported: int = 0
    batches: int = 0
    failed_batches: int = 0
    unreachable: int = 0
    closed: int = 0
    updated: int = 0
    erasure_pending: int = 0
    refresh_pending: int = 0
    erased: dict[str, int] = field(default_factory=dict)
    refreshed: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    cycle_period_days: int | None = None

    def details(self) -> dict[str, Any]:
        return asdict(self)


def updated_at(moment: datetime) -> str:
    """Atlassian's ``updatedAt`` form: UTC with milliseconds, ``2018-10-25T23:08:51.382Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cycle_days(header: str | None) -> int:
    try:
        return max(1, int(str(header).strip()))
    except ValueError:
        return DEFAULT_CYCLE_DAYS


def send_batch(client: JiraClient, batch: list[tuple[str, datetime]]) -> tuple[dict[str, str], int]:
    """Report one batch (at most 90); ({account: "closed" | "updated"}, cycle days)."""
    if not 0 < len(batch) <= BATCH:
        raise ValueError(f"a batch holds 1 to {BATCH} accounts")
    body = {"accounts": [{"accountId": a, "updatedAt": updated_at(t)} for a, t in batch]}
    response = client.call("report_accounts", json=body)
    cycle = _cycle_days(response.headers.get("Cycle-Period", str(DEFAULT_CYCLE_DAYS)))
    if response.status_code == 204 or not response.content:
        return {}, cycle
    sent = {account for account, _ in batch}
    answer: dict[str, str] = {}
    for entry in (response.json() or {}).get("accounts") or []:
        if not isinstance(entry, dict) or entry.get("accountId") not in sent:
            continue
        if entry.get("status") in STATUSES:
            answer[entry["accountId"]] = entry["status"]
    return answer, cycle


def _stored(runtime: Runtime, tenant_id: uuid.UUID) -> list[Stored]:
    with runtime.db.tenant_session(tenant_id) as session:
        note_members(session)
        rows = session.execute(select(AtlassianAccount).order_by(AtlassianAccount.id)).scalars()
        return [
            Stored(
                row.account_id,
                ("installation", row.installation_id)
                if row.installation_id is not None
                else ("connection", row.end_id),
                row.refreshed_at,
                row.closed_at is not None,
            )
            for row in rows
        ]


def _groups(
    runtime: Runtime, tenant_id: uuid.UUID, rows: list[Stored], meter: CallMeter
) -> dict[End, tuple[JiraClient | None, dict[str, datetime]]]:
    """{reporter: (its client, {account: oldest refreshed_at})}; None for accounts no end
    can report (their client is None)."""
    groups: dict[Any, tuple[JiraClient | None, dict[str, datetime]]] = {}
    reporters = Reporters(runtime, tenant_id, meter)
    with runtime.db.tenant_session(tenant_id) as session:
        for row in rows:
            reporter = reporters.reporter_of(session, row.end)
            if reporter not in groups:
                try:
                    client = reporters.client(session, reporter) if reporter else None
                except (JiraError, ValueError) as error:  # ValueError: OAUTH_API_BASE
                    log.warning("personal-data report: an end cannot report (%s)", error)
                    client = None
                groups[reporter] = (client, {})
            accounts = groups[reporter][1]
            accounts[row.account_id] = min(
                accounts.get(row.account_id, row.refreshed_at), row.refreshed_at
            )
    return groups


def _report(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    rows: list[Stored],
    meter: CallMeter,
    result: ReportResult,
) -> dict[str, str]:
    """Send every open account; Atlassian's answers ("closed" wins over "updated")."""
    answers: dict[str, str] = {}
    reported: set[str] = set()
    for client, accounts in _groups(runtime, tenant_id, rows, meter).values():
        if client is None:
            continue
        ordered = sorted(accounts.items())
        for start in range(0, len(ordered), BATCH):
            batch = ordered[start : start + BATCH]
            try:
                answer, cycle = send_batch(client, batch)
            except JiraError as error:
                result.failed_batches += 1
                log.warning("personal-data report: a batch failed (%s)", error)
                continue
            result.batches += 1
            result.cycle_period_days = min(cycle, result.cycle_period_days or cycle)
            reported |= {account for account, _ in batch}
            for account, status in answer.items():
                if answers.get(account) != "closed":
                    answers[account] = status
    result.accounts = len({row.account_id for row in rows})
    result.reported = len(reported)
    result.unreachable = result.accounts - result.reported
    if reported:
        with runtime.db.tenant_session(tenant_id) as session:
            session.execute(
                update(AtlassianAccount)
                .where(AtlassianAccount.account_id.in_(sorted(reported)))
                .values(reported_at=text("now()"))
            )
    return answers


def report_accounts(runtime: Runtime, tenant_id: uuid.UUID) -> ReportResult:
    """One tenant's report and the actions its answer asks for (see the module docstring)."""
    started = datetime.now(UTC)
    meter = CallMeter()
    result = ReportResult()
    rows = _stored(runtime, tenant_id)
    if not rows:
        return result
    answers = _report(runtime, tenant_id, [r for r in rows if not r.closed], meter, result)
    closed = {a for a, s in answers.items() if s == "closed"} | {
        r.account_id for r in rows if r.closed
    }
    changed = {a for a, s in answers.items() if s == "updated"} - closed
    result.closed, result.updated = len(closed), len(changed)
    _set(runtime, tenant_id, closed - {r.account_id for r in rows if r.closed}, closed_at=started)
    erasure = erase_accounts(runtime, tenant_id, closed, meter)
    result.erased = dict(erasure.counts)
    if erasure.complete:
        with runtime.db.tenant_session(tenant_id) as session:
            session.execute(
                delete(AtlassianAccount).where(AtlassianAccount.account_id.in_(sorted(closed)))
            )
    else:
        result.erasure_pending = len(closed)
    ends: dict[str, list[End]] = defaultdict(list)
    for row in rows:
        if row.account_id in changed:
            ends[row.account_id].append(row.end)
    refresh, refreshed = refresh_accounts(runtime, tenant_id, dict(ends), meter)
    result.refreshed = dict(refresh.counts)
    result.refresh_pending = len(changed - refreshed)
    _set(runtime, tenant_id, refreshed, refreshed_at=started)
    result.api_calls = meter.calls
    _audit(runtime, tenant_id, result)
    return result


def _set(runtime: Runtime, tenant_id: uuid.UUID, accounts: set[str], **values: Any) -> None:
    if accounts:
        with runtime.db.tenant_session(tenant_id) as session:
            session.execute(
                update(AtlassianAccount)
                .where(AtlassianAccount.account_id.in_(sorted(accounts)))
                .values(**values)
            )


def _audit(runtime: Runtime, tenant_id: uuid.UUID, result: ReportResult) -> None:
    if result.cycle_period_days is not None and result.cycle_period_days < DEFAULT_CYCLE_DAYS:
        log.warning(
            "Atlassian asks for personal-data reports every %d days; the clock reports weekly",
            result.cycle_period_days,
        )
    with runtime.db.tenant_session(tenant_id) as session:
        record_audit(session, tenant_id, "system", "personal_data.reported", **result.details())


def tenants_to_report(runtime: Runtime) -> list[uuid.UUID]:
    """Every tenant (the maintenance role sees them all); each reports on its own."""
    with runtime.maintenance_engine().connect() as connection:
        return list(connection.execute(text("SELECT id FROM tenants ORDER BY id")).scalars())
