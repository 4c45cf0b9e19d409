"""Integration configuration is validated; bad input is refused naming the field."""

from __future__ import annotations

import uuid

import pytest

from models.installations import create_installation
from models.integration_config import create_integration
from runtime import Runtime
from schemas import InvalidPayload


@pytest.fixture
def installation_id(runtime: Runtime, new_tenant) -> tuple[uuid.UUID, uuid.UUID]:
    tenant_id = new_tenant("config")
    with runtime.db.tenant_session(tenant_id) as session:
        installation = create_installation(
            session, runtime.keys, f"c-{uuid.uuid4()}", "https://c.example", "s" * 40
        )
    return tenant_id, installation.id


def document(installation: uuid.UUID, **changes: object) -> dict:
    base = {
        "name": "A to B",
        "source": {"kind": "installation", "id": str(installation), "project": "ALP"},
        "target": {"kind": "installation", "id": str(installation), "project": "ALPR"},
        "direction": "one_way",
        "fields": ["summary", "status"],
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"fields": ["summary", "labels"]}, "fields/1"),
        ({"fields": []}, "fields"),
        ({"direction": "sideways"}, "direction"),
        ({"source": {"kind": "installation", "id": "nope", "project": "ALP"}}, "source/id"),
        ({"target": {"kind": "site", "id": str(uuid.uuid4()), "project": "ALP"}}, "target/kind"),
        ({"mappings": {"status": {"To Do": ""}}}, "mappings/status/To Do"),
        ({"attachment_max_bytes": -1}, "attachment_max_bytes"),
        ({"colour": "blue"}, "(body)"),
    ],
)
def test_invalid_configuration_names_the_field(
    runtime: Runtime, installation_id, changes: dict, where: str
) -> None:
    tenant_id, installation = installation_id
    with pytest.raises(InvalidPayload) as error, runtime.db.tenant_session(tenant_id) as session:
        create_integration(session, document(installation, **changes))
    assert str(error.value).startswith(where), str(error.value)


def test_ends_must_exist_in_this_workspace(runtime: Runtime, installation_id, new_tenant) -> None:
    tenant_id, installation = installation_id
    other_tenant = new_tenant("other")
    with runtime.db.tenant_session(other_tenant) as session:
        foreign = create_installation(
            session, runtime.keys, f"c-{uuid.uuid4()}", "https://o.example", "s" * 40
        )
    bad = document(
        installation, target={"kind": "installation", "id": str(foreign.id), "project": "BET"}
    )
    with pytest.raises(InvalidPayload, match="target/id"):
        with runtime.db.tenant_session(tenant_id) as session:
            create_integration(session, bad)
    same = document(
        installation, target={"kind": "installation", "id": str(installation), "project": "ALP"}
    )
    with pytest.raises(InvalidPayload, match="target/project"):
        with runtime.db.tenant_session(tenant_id) as session:
            create_integration(session, same)


def test_valid_configuration_is_stored_with_defaults(runtime: Runtime, installation_id) -> None:
    tenant_id, installation = installation_id
    with runtime.db.tenant_session(tenant_id) as session:
        integration = create_integration(session, document(installation, enabled=True))
        assert integration.enabled is True
        assert integration.config["on_issue_deleted"] == "ignore"
        assert integration.config["fields"] == ["summary", "status"]
        assert integration.source_installation_id == installation
