"""Creating and changing integrations: validated against schemas/integration.json, then
checked against what exists (the ends must be this tenant's and usable)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from models.atlassian_accounts import note_accounts
from models.connections import Connection
from models.installations import Installation
from models.integrations import Integration
from schemas import InvalidPayload, validate

DEFAULTS: dict[str, Any] = {
    "mappings": {},
    "jql": "",
    "on_issue_deleted": "ignore",
    "on_comment_deleted": "ignore",
    "attachment_max_bytes": 10 * 1024 * 1024,
}
_NOT_CONFIG = ("name", "source", "target", "enabled")  # columns, not config
_END_MODELS = {"installation": Installation, "connection": Connection}


def _check_end(session: Session, where: str, end: dict[str, Any]) -> uuid.UUID:
    model = _END_MODELS[end["kind"]]
    end_id = uuid.UUID(end["id"])
    if session.get(model, end_id) is None:
        raise InvalidPayload(f"{where}/id: no {end['kind']} {end_id} in this workspace")
    return end_id


def create_integration(session: Session, document: Any) -> Integration:
    """Validate ``document`` and create the integration (disabled unless it says enabled).

    Raises InvalidPayload whose message starts with the offending field's path.
    """
    validate("integration", document)
    if (
        document["source"]["kind"] == document["target"]["kind"]
        and document["source"]["id"] == document["target"]["id"]
        and document["source"]["project"] == document["target"]["project"]
    ):
        raise InvalidPayload("target/project: the target must differ from the source")
    source_id = _check_end(session, "source", document["source"])
    target_id = _check_end(session, "target", document["target"])
    config = {**DEFAULTS, **{k: v for k, v in document.items() if k not in _NOT_CONFIG}}
    integration = Integration(
        tenant_id=session.info["tenant_id"],
        name=document["name"],
        source_project=document["source"]["project"],
        target_project=document["target"]["project"],
        config=config,
        enabled=bool(document.get("enabled", False)),
        **{f"source_{document['source']['kind']}_id": source_id},
        **{f"target_{document['target']['kind']}_id": target_id},
    )
    session.add(integration)
    session.flush()
    _note_mapped_people(session, document)
    return integration


def integration_document(integration: Integration) -> dict[str, Any]:
    """The integration as the document ``create_integration`` takes (for an edit form)."""

    def end(prefix: str) -> dict[str, str]:
        installation = getattr(integration, f"{prefix}_installation_id")
        kind = "installation" if installation is not None else "connection"
        return {
            "kind": kind,
            "id": str(installation or getattr(integration, f"{prefix}_connection_id")),
            "project": getattr(integration, f"{prefix}_project"),
        }

    return {
        **DEFAULTS,
        **integration.config,
        "name": integration.name,
        "source": end("source"),
        "target": end("target"),
    }


def update_integration(session: Session, integration: Integration, document: Any) -> list[str]:
    """Validate ``document`` and apply it to ``integration``; the names of what changed.
    The ends (sites and projects) cannot change: the links point at their issues.

    Raises InvalidPayload whose message starts with the offending field's path.
    """
    validate("integration", document)
    before = integration_document(integration)
    for side in ("source", "target"):
        if document[side] != before[side]:
            raise InvalidPayload(
                f"{side}: the sites and projects of an integration cannot change; "
                "create a new integration instead"
            )
    after = {**before, **{k: v for k, v in document.items() if k != "enabled"}}
    changed = sorted(k for k in after if after[k] != before.get(k))
    integration.name = after["name"]
    integration.config = {k: v for k, v in after.items() if k not in _NOT_CONFIG}
    session.flush()
    _note_mapped_people(session, after)
    return changed


def _note_mapped_people(session: Session, document: dict[str, Any]) -> None:
    """The people mapping names accounts of both sites: note them for the personal-data
    report (source accounts through the source end, the rest through the target end)."""
    mappings = document.get("mappings") or {}
    users = mappings.get("users") or {}
    source, target = document["source"], document["target"]
    note_accounts(session, source["kind"], uuid.UUID(source["id"]), users.keys())
    targets = [*users.values(), mappings.get("default_assignee")]
    note_accounts(session, target["kind"], uuid.UUID(target["id"]), targets)
