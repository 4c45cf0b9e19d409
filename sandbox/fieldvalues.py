"""Parse and validate issue field values the way Jira's REST v3 does.

Internal values: summary str, description ADF|None, issuetype id, priority id,
labels sorted list, assignee accountId|None, project id (create only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox import adf
from sandbox.errors import field_errors
from sandbox.state import Site

SUMMARY_MAX = 255
LABEL_MAX = 255


class Invalid(ValueError):
    """One field's value is not acceptable; the message is Jira's."""


def not_settable(name: str) -> str:
    return f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."


def _summary(site: Site, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("You must specify a summary of the issue.")
    if len(value) > SUMMARY_MAX:
        raise Invalid("Summary must be less than 255 characters.")
    if "\n" in value or "\r" in value:
        raise Invalid("The summary is invalid because it contains newline characters.")
    return value


def _description(site: Site, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        return adf.validate(value)
    except adf.InvalidADF as exc:
        raise Invalid(str(exc)) from None


def _by_id_or_name(value: Any, options: list[Any], missing: str, unknown: str) -> str:
    if not isinstance(value, dict) or not ({"id", "name"} & value.keys()):
        raise Invalid(missing)
    for option in options:
        if str(value.get("id", "")) == option.id or value.get("name") == option.name:
            return option.id
    raise Invalid(unknown)


def _issuetype(site: Site, value: Any) -> str:
    return _by_id_or_name(
        value, site.issue_types, "Specify an issue type", "The issue type selected is invalid."
    )


def _priority(site: Site, value: Any) -> str:
    name = value.get("name") or value.get("id") if isinstance(value, dict) else value
    return _by_id_or_name(
        value,
        site.priorities,
        "Specify the Priority (id or name) in the string format",
        f"Priority name '{name}' is not valid",
    )


def _labels(site: Site, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise Invalid("Labels must be an array of strings.")
    for label in value:
        _check_label(label)
    return sorted(set(value))


def _check_label(label: Any) -> str:
    if not isinstance(label, str) or not label:
        raise Invalid("Labels must be non-empty strings.")
    if any(ch.isspace() for ch in label):
        raise Invalid(f"The label '{label}' contains spaces which is invalid.")
    if len(label) > LABEL_MAX:
        raise Invalid(f"The label '{label}' exceeds the 255 character limit.")
    return label


def _assignee(site: Site, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or "accountId" not in value:
        raise Invalid("Specify the assignee by accountId.")
    account = value["accountId"]
    if account is None:
        return None
    if not isinstance(account, str) or account not in site.users:
        raise Invalid(f"User '{account}' does not exist.")
    return account


def _project(site: Site, value: Any) -> str:
    ref = None
    if isinstance(value, dict):
        ref = value.get("id") or value.get("key")
    found = site.project(str(ref)) if ref else None
    if found is None:
        raise Invalid("Specify a valid project ID or key")
    return found.id


PARSERS: dict[str, Callable[[Site, Any], Any]] = {
    "summary": _summary,
    "description": _description,
    "issuetype": _issuetype,
    "priority": _priority,
    "labels": _labels,
    "assignee": _assignee,
}


def parse_create(site: Site, fields: Any) -> dict[str, Any]:
    """Values for a new issue; a 400 listing every bad field otherwise."""
    if not isinstance(fields, dict):
        raise field_errors({"fields": "The 'fields' object is required."})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, parse in {"project": _project, **PARSERS}.items():
        if name not in fields:
            continue
        try:
            values[name] = parse(site, fields[name])
        except Invalid as exc:
            errors[name] = str(exc)
    for name in fields.keys() - values.keys() - errors.keys():
        errors[name] = not_settable(name)
    for name, message in (
        ("project", "Specify a valid project ID or key"),
        ("issuetype", "Specify an issue type"),
        ("summary", "You must specify a summary of the issue."),
    ):
        if name not in fields:
            errors.setdefault(name, message)
    if errors:
        raise field_errors(errors)
    return values


def parse_edit(site: Site, current: dict[str, Any], fields: Any, update: Any) -> dict[str, Any]:
    """New values after an edit's `fields` (set) and `update` (operations)."""
    fields = fields or {}
    update = update or {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise field_errors({"fields": "'fields' and 'update' must be objects."})
    errors: dict[str, str] = {}
    values = dict(current)
    for name, raw in fields.items():
        if name in update:
            errors[name] = f"Field '{name}' cannot be set in both 'fields' and 'update'."
        elif name not in PARSERS:
            errors[name] = not_settable(name)
        else:
            try:
                values[name] = PARSERS[name](site, raw)
            except Invalid as exc:
                errors[name] = str(exc)
    for name, operations in update.items():
        if name in errors:
            continue
        if name not in PARSERS:
            errors[name] = not_settable(name)
            continue
        try:
            values[name] = _apply_operations(site, name, values[name], operations)
        except Invalid as exc:
            errors[name] = str(exc)
    if errors:
        raise field_errors(errors)
    return values


def _apply_operations(site: Site, name: str, value: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise Invalid(f"Operations on '{name}' must be an array.")
    for operation in operations:
        if not isinstance(operation, dict) or len(operation) != 1:
            raise Invalid(f"Each operation on '{name}' must have exactly one verb.")
        ((verb, argument),) = operation.items()
        if verb == "set":
            value = PARSERS[name](site, argument)
        elif name == "labels" and verb == "add":
            value = sorted({*value, _check_label(argument)})
        elif name == "labels" and verb == "remove":
            value = [label for label in value if label != argument]
        else:
            raise Invalid(f"Field '{name}' does not support operation '{verb}'.")
    return value
