"""Which Atlassian accounts a stored webhook payload holds personal data of, noted for the
personal-data report (models/atlassian_accounts.py) as the event job handles it.

The hot path stays cheap: a process-local memory of what was noted in the last ten
minutes skips accounts already noted for that end, so a busy issue's events add no
statement at all, and a new account costs one ``INSERT ... ON CONFLICT DO NOTHING`` in
the event job's own transaction.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from sqlalchemy.orm import Session

from models.atlassian_accounts import note_accounts

REMEMBER_SECONDS = 600
MAX_REMEMBERED = 20_000
USER_FIELDS = frozenset({"assignee", "reporter", "creator"})
NOT_PEOPLE = frozenset({"app"})  # app (bot) users hold no personal data

_noted: dict[str, float] = {}
_lock = threading.Lock()


def payload_accounts(payload: Any) -> list[str]:
    """Every person's account id in a Jira webhook body: user objects anywhere (the actor,
    assignee, reporter, creator, comment authors) and the ids a user field's changelog
    item carries; app users are left out. Each id once, in order of appearance."""
    found: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            account = node.get("accountId")
            if isinstance(account, str) and node.get("accountType") not in NOT_PEOPLE:
                found[account] = None
            if node.get("fieldId", node.get("field")) in USER_FIELDS:
                for key in ("from", "to", "tmpFromAccountId", "tmpToAccountId"):
                    if isinstance(node.get(key), str):
                        found[node[key]] = None
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload)
    return list(found)


def _first_in_a_while(key: str) -> bool:
    """True (and remembered) unless ``key`` was noted in the last REMEMBER_SECONDS."""
    now = time.monotonic()
    with _lock:
        if _noted.get(key, 0.0) > now:
            return False
        if len(_noted) >= MAX_REMEMBERED:
            _noted.clear()
        _noted[key] = now + REMEMBER_SECONDS
        return True


def note_payload_accounts(session: Session, kind: str, end_id: uuid.UUID, payload: Any) -> None:
    """Note the accounts of a payload stored from ``end_id`` (in the caller's transaction)."""
    tenant = session.info["tenant_id"]
    new = [a for a in payload_accounts(payload) if _first_in_a_while(f"{tenant}:{end_id}:{a}")]
    note_accounts(session, kind, end_id, new)


def forget_account(tenant_id: uuid.UUID, account_id: str) -> None:
    """Forget this process's memory of an account (its rows were erased): the next
    sighting is noted again."""
    prefix, suffix = f"{tenant_id}:", f":{account_id}"
    with _lock:
        for key in [k for k in _noted if k.startswith(prefix) and k.endswith(suffix)]:
            del _noted[key]
