"""The integration form: its fields as posted, the integration document they make
(schemas/integration.json), and each problem placed next to the field it is about."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from schemas import schema
from sync.site_catalog import parse_end

MAPPED = ("status", "priority", "issuetype")  # name tables; "users" maps account ids
MAP_KEYS = (*MAPPED, "users")
MAX_ROWS = 200  # the schema's maxProperties per table
MAX_ATTACHMENT_MB = 100
DIRECTIONS = ("one_way", "two_way")
MAX_JQL = 1000


def _enum(*path: str) -> tuple[str, ...]:
    node: Any = schema("integration")["properties"]
    for part in path:
        node = node[part]
    return tuple(node["enum"])


FIELDS = _enum("fields", "items")
ISSUE_DELETED = _enum("on_issue_deleted")
COMMENT_DELETED = _enum("on_comment_deleted")
# Where a schema path's problem is shown: the first path parts -> the form field.
_FIELD_OF = {
    "source/project": "source_project",
    "target/project": "target_project",
    "source": "source",
    "target": "target",
    "mappings/default_assignee": "default_assignee",
    "attachment_max_bytes": "attachment_mb",
}


def empty_values() -> dict[str, Any]:
    """A new integration's form: one way, summary and description, nothing mapped."""
    return {
        "name": "",
        "source": "",
        "source_project": "",
        "target": "",
        "target_project": "",
        "direction": "one_way",
        "fields": ["summary", "description"],
        "maps": {key: [] for key in MAP_KEYS},
        "default_assignee": "",
        "jql": "",
        "on_issue_deleted": "ignore",
        "on_comment_deleted": "ignore",
        "attachment_mb": "10",
        "enable": False,
    }


def _rows(form: MultiDict, key: str) -> list[tuple[str, str]]:
    sources = form.getlist(f"map_{key}_from")[:MAX_ROWS]
    targets = form.getlist(f"map_{key}_to")[:MAX_ROWS]
    return [(a.strip()[:255], b.strip()[:255]) for a, b in zip(sources, targets, strict=False)]


def read_form(form: MultiDict) -> dict[str, Any]:
    """The posted form as values the template shows again (nothing validated yet)."""

    def text(name: str, limit: int = 255) -> str:
        return (form.get(name) or "").strip()[:limit]

    return {
        "name": text("name", 200),
        "source": text("source", 80),
        "source_project": text("source_project", 20).upper(),
        "target": text("target", 80),
        "target_project": text("target_project", 20).upper(),
        "direction": text("direction", 20),
        "fields": [f for f in form.getlist("fields") if f in FIELDS],
        "maps": {key: _rows(form, key) for key in MAP_KEYS},
        "default_assignee": text("default_assignee", 200),
        "jql": text("jql", 1200),
        "on_issue_deleted": text("on_issue_deleted", 40),
        "on_comment_deleted": text("on_comment_deleted", 40),
        "attachment_mb": text("attachment_mb", 20),
        "enable": form.get("enable") == "yes",
    }


def from_document(document: dict[str, Any]) -> dict[str, Any]:
    """A stored integration's document as form values."""
    mappings = document.get("mappings") or {}
    size = int(document.get("attachment_max_bytes") or 0)
    return {
        **empty_values(),
        "name": document["name"],
        "source": f"{document['source']['kind']}:{document['source']['id']}",
        "source_project": document["source"]["project"],
        "target": f"{document['target']['kind']}:{document['target']['id']}",
        "target_project": document["target"]["project"],
        "direction": document["direction"],
        "fields": list(document["fields"]),
        "maps": {key: sorted((mappings.get(key) or {}).items()) for key in MAP_KEYS},
        "default_assignee": mappings.get("default_assignee") or "",
        "jql": document.get("jql", ""),
        "on_issue_deleted": document.get("on_issue_deleted", "ignore"),
        "on_comment_deleted": document.get("on_comment_deleted", "ignore"),
        "attachment_mb": f"{size / (1024 * 1024):g}",
    }


def _end(values: dict[str, Any], side: str, errors: dict[str, str]) -> dict[str, str] | None:
    parsed = parse_end(values[side])
    if parsed is None:
        errors[side] = f"choose the {side} site"
        return None
    if not values[f"{side}_project"]:
        errors[f"{side}_project"] = f"choose the {side} project"
    return {"kind": parsed[0], "id": str(parsed[1]), "project": values[f"{side}_project"]}


def _mappings(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    mappings: dict[str, Any] = {}
    for key in MAP_KEYS:
        table: dict[str, str] = {}
        for source, target in values["maps"][key]:
            if not source:
                continue
            if not target:
                if key == "users":  # a name table's empty choice means "the same name"
                    errors["map_users"] = f"give the target account id for {source}"
                continue
            table[source] = target
        if table:
            mappings[key] = table
    if values["default_assignee"]:
        mappings["default_assignee"] = values["default_assignee"]
    return mappings


def _attachment_bytes(raw: str, errors: dict[str, str]) -> int:
    try:
        megabytes = float(raw or "0")
    except ValueError:
        megabytes = -1.0
    if not 0 <= megabytes <= MAX_ATTACHMENT_MB:
        errors["attachment_mb"] = f"a size from 0 to {MAX_ATTACHMENT_MB} MB"
        return 0
    return int(megabytes * 1024 * 1024)


def to_document(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The integration document the values make, and the problems by form field."""
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "give the integration a name"
    if not values["fields"]:
        errors["fields"] = "choose at least one field to mirror"
    if len(values["jql"]) > MAX_JQL:
        errors["jql"] = f"at most {MAX_JQL} characters (this is too long)"
    if values["direction"] not in DIRECTIONS:
        errors["direction"] = "choose one way or both ways"
    for name, allowed in (
        ("on_issue_deleted", ISSUE_DELETED),
        ("on_comment_deleted", COMMENT_DELETED),
    ):
        if values[name] not in allowed:
            errors[name] = f"one of {', '.join(allowed)}"
    document = {
        "name": values["name"],
        "source": _end(values, "source", errors),
        "target": _end(values, "target", errors),
        "direction": values["direction"],
        "fields": values["fields"],
        "mappings": _mappings(values, errors),
        "jql": values["jql"],
        "on_issue_deleted": values["on_issue_deleted"],
        "on_comment_deleted": values["on_comment_deleted"],
        "attachment_max_bytes": _attachment_bytes(values["attachment_mb"], errors),
    }
    return document, errors


def place_error(message: str) -> tuple[str, str]:
    """A validation message (``path: why``) as (form field, why)."""
    where, _, why = message.partition(": ")
    parts = where.split("/")
    for length in (2, 1):
        key = "/".join(parts[:length])
        if key in _FIELD_OF:
            return _FIELD_OF[key], why
    if parts[0] == "mappings" and len(parts) > 1:
        return f"map_{parts[1]}", why
    return (parts[0] if parts[0] in empty_values() else "form"), why or message
