"""What Tandem does with Atlassian's answer: erase the personal data of closed accounts,
refresh what it holds of accounts whose profile changed.

Both are idempotent and report whether they finished: a step that could not be done
(a site unreachable, a webhook still waiting for its job) leaves the account to the
next run, which repeats every step.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from compliance import personal_data_stores as stores
from compliance.personal_data_attributions import rewrite_attributions
from compliance.personal_data_clients import End, reader_for
from jira.errors import JiraError
from jira.meter import CallMeter
from runtime import Runtime
from sync.accounts_seen import forget_account

FORMER_USER_NAME = "a former user"


@dataclass
class Outcome:
    """Per place, how much was cleared; and whether every step was done."""

    counts: Counter[str] = field(default_factory=Counter)
    complete: bool = True


def erase_accounts(
    runtime: Runtime, tenant_id: uuid.UUID, accounts: set[str], meter: CallMeter
) -> Outcome:
    """Erase closed accounts' personal data from every place the tenant holds it (their
    ``atlassian_accounts`` rows are the caller's, removed once this is complete)."""
    outcome = Outcome()
    if not accounts:
        return outcome
    with runtime.db.tenant_session(tenant_id) as session:
        outcome.counts["mappings"] = stores.erase_mappings(session, accounts)
        outcome.counts["memberships"] = stores.erase_memberships(session, accounts)
        changed, pending = stores.redact_payloads(session, accounts, erase=True)
        outcome.counts["payloads"] = changed
        outcome.counts["caches"] = stores.drop_cached(runtime, session, accounts)
    rewrite = rewrite_attributions(
        runtime, tenant_id, dict.fromkeys(accounts, FORMER_USER_NAME), meter
    )
    with runtime.db.tenant_session(tenant_id) as session:
        stores.forget_authors(session, rewrite.settled)
        outcome.counts["audit_rows_naming"] = stores.audit_mentions(session, accounts)
    outcome.counts["attributions"] = rewrite.edited
    outcome.counts["sync_logs"] = stores.erase_sync_logs(runtime, tenant_id, accounts)
    outcome.counts["sealed_sync_logs"] = stores.erase_sealed_logs(runtime, tenant_id, accounts)
    outcome.counts["raw_responses"] = stores.delete_raw_responses(runtime, tenant_id)
    for account in accounts:
        forget_account(tenant_id, account)
    outcome.complete = rewrite.failed == 0 and pending == 0
    return outcome


def _current_names(
    runtime: Runtime, tenant_id: uuid.UUID, accounts: dict[str, list[End]], meter: CallMeter
) -> dict[str, str]:
    """Each account's display name as Jira shows it now, read through an end it was seen
    through; accounts that cannot be read are left out."""
    names: dict[str, str] = {}
    with runtime.db.tenant_session(tenant_id) as session:
        for account, ends in accounts.items():
            client = reader_for(runtime, session, ends, meter)
            if client is None:
                continue
            try:
                user = client.call("get_user", params={"accountId": account}).json()
            except JiraError:
                continue
            name = user.get("displayName")
            if isinstance(name, str) and name:
                names[account] = name
    return names


def refresh_accounts(
    runtime: Runtime, tenant_id: uuid.UUID, accounts: dict[str, list[End]], meter: CallMeter
) -> tuple[Outcome, set[str]]:
    """Bring what the tenant holds of changed accounts up to date: attribution lines name
    the current display name, cached matches and stale copies in stored webhook payloads
    are dropped (they are read again when needed). Returns the outcome and the accounts
    fully refreshed."""
    outcome = Outcome()
    if not accounts:
        return outcome, set()
    names = _current_names(runtime, tenant_id, accounts, meter)
    rewrite = rewrite_attributions(runtime, tenant_id, names, meter)
    with runtime.db.tenant_session(tenant_id) as session:
        changed, pending = stores.redact_payloads(session, set(accounts), erase=False)
        outcome.counts["payloads"] = changed
        outcome.counts["caches"] = stores.drop_cached(runtime, session, set(accounts))
    outcome.counts["attributions"] = rewrite.edited
    settled = rewrite.failed == 0 and pending == 0
    outcome.complete = settled and len(names) == len(accounts)
    return outcome, set(names) if settled else set()
