"""Reading the configured fields from a Jira issue, mapping them to the other side, and
hashing them so only changed fields are written."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Fields that are copied as values (comments and attachments are children, synced apart).
VALUE_FIELDS = ("summary", "description", "priority", "issuetype", "assignee", "status")
NAMED = {"priority", "issuetype", "status"}


def read_value(issue: dict[str, Any], field: str) -> Any:
    """The comparable value of ``field``: names for named fields, accountId for people."""
    value = (issue.get("fields") or {}).get(field)
    if value is None:
        return None
    if field in NAMED:
        return value.get("name")
    if field == "assignee":
        return value.get("accountId")
    return value


def read_values(issue: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The allowed value fields of an issue."""
    return {field: read_value(issue, field) for field in fields if field in VALUE_FIELDS}


def _without_local_ids(value: Any) -> Any:
    """ADF with Jira's generated ``localId`` attributes dropped (they differ per copy)."""
    if isinstance(value, dict):
        return {k: _without_local_ids(v) for k, v in value.items() if k != "localId"}
    if isinstance(value, list):
        return [_without_local_ids(item) for item in value]
    return value


def value_hash(value: Any) -> str:
    """A stable hash of a field value (canonical JSON, ADF without local ids)."""
    canonical = json.dumps(
        _without_local_ids(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def reverse_mappings(mappings: dict[str, Any]) -> dict[str, Any]:
    """Mappings for the way back (target to source): each name map inverted."""
    reverse: dict[str, Any] = {"default_assignee": None}
    for name in ("status", "priority", "issuetype", "users"):
        forward = mappings.get(name) or {}
        inverted: dict[str, str] = {}
        for key, value in forward.items():
            inverted.setdefault(value, key)
        reverse[name] = inverted
    return reverse


def map_value(field: str, value: Any, mappings: dict[str, Any]) -> Any:
    """The value the other side should have: named values and users through the explicit
    maps (people without an explicit mapping are resolved by ``sync.people``)."""
    if value is None:
        return None
    if field in NAMED:
        return (mappings.get(field) or {}).get(value, value)
    if field == "assignee":
        return (mappings.get("users") or {}).get(value, value)
    return value


def edit_payload(values: dict[str, Any]) -> dict[str, Any]:
    """Jira's ``fields`` for an edit or create (status goes through transitions)."""
    fields: dict[str, Any] = {}
    for field, value in values.items():
        if field == "status":
            continue
        if field in ("priority", "issuetype"):
            fields[field] = {"name": value} if value is not None else None
        elif field == "assignee":
            fields[field] = {"accountId": value} if value is not None else None
        else:
            fields[field] = value
    return fields
