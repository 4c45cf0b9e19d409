"""Lifecycle: signed install creates a tenant with a sealed secret; re-install,
enable/disable and uninstall are audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from models.audit import AuditEvent
from models.deletion_requests import DeletionRequest
from models.installations import Installation, shared_secret_of
from runtime import Runtime
from tests.connect_fixtures import APP_KEY, BASE_URL, ConnectWorld, lifecycle_body
from tests.support.connect_tokens import install_token, secret_token


def _installation(runtime: Runtime, client_key: str) -> tuple:
    tenant_id = runtime.db.directory_lookup("connect_client_key", client_key)
    assert tenant_id is not None
    with runtime.db.tenant_session(tenant_id) as session:
        installation = session.execute(
            select(Installation).where(Installation.client_key == client_key)
        ).scalar_one()
        secret = shared_secret_of(session, runtime.keys, installation)
        actions = session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
        return tenant_id, installation, secret, actions


def test_descriptor_is_served_with_our_base_url(connect_world: ConnectWorld) -> None:
    response = connect_world.client.get("/atlassian-connect.json")
    assert response.status_code == 200
    descriptor = response.json
    assert descriptor["baseUrl"] == BASE_URL and descriptor["key"] == APP_KEY
    assert descriptor["apiMigrations"] == {
        "signed-install": True,
        "context-qsh": True,
        "gdpr": True,
    }


def test_signed_install_creates_tenant_with_sealed_secret(
    connect_world: ConnectWorld, runtime: Runtime
) -> None:
    response, client_key, secret = connect_world.install()
    assert response.status_code == 204, response.get_data(as_text=True)
    tenant_id, installation, opened, actions = _installation(runtime, client_key)
    assert opened == secret
    assert secret.encode() not in bytes(installation.shared_secret)
    assert actions == ["installation.installed"]
    with runtime.db.tenant_session(tenant_id) as session:
        raw = session.execute(
            text("SELECT encode(shared_secret, 'escape') FROM installations")
        ).scalar_one()
        assert secret not in raw


def test_reinstall_replaces_secret_and_base_url(
    connect_world: ConnectWorld, runtime: Runtime
) -> None:
    _, client_key, first = connect_world.install()
    response, _, second = connect_world.install(
        client_key=client_key, baseUrl="https://moved.atlassian.test"
    )
    assert response.status_code == 204
    _, installation, opened, actions = _installation(runtime, client_key)
    assert opened == second != first
    assert installation.base_url == "https://moved.atlassian.test"
    assert actions == ["installation.installed", "installation.reinstalled"]


def test_enable_disable_need_a_valid_token(connect_world: ConnectWorld, runtime: Runtime) -> None:
    _, client_key, secret = connect_world.install()
    path = "/connect/lifecycle/disabled"
    body = lifecycle_body("disabled", client_key)
    forged = secret_token("x" * 40, client_key, "POST", path)
    refused = connect_world.client.post(path, json=body, headers={"Authorization": f"JWT {forged}"})
    assert refused.status_code == 401
    assert _installation(runtime, client_key)[1].status == "installed"
    token = secret_token(secret, client_key, "POST", path)
    response = connect_world.client.post(path, json=body, headers={"Authorization": f"JWT {token}"})
    assert response.status_code == 204
    _, installation, _, actions = _installation(runtime, client_key)
    assert installation.status == "disabled"
    assert actions[-1] == "installation.disabled"


def test_uninstall_marks_uninstalled_and_schedules_deletion(
    connect_world: ConnectWorld, runtime: Runtime
) -> None:
    _, client_key, _ = connect_world.install()
    path = "/connect/lifecycle/uninstalled"
    token = install_token(connect_world.signing_key, connect_world.kid, client_key, BASE_URL, path)
    response = connect_world.client.post(
        path,
        json=lifecycle_body("uninstalled", client_key),
        headers={"Authorization": f"JWT {token}"},
    )
    assert response.status_code == 204
    tenant_id, installation, _, actions = _installation(runtime, client_key)
    assert installation.status == "uninstalled"
    assert actions[-1] == "installation.uninstalled"
    with runtime.db.tenant_session(tenant_id) as session:
        request = session.execute(select(DeletionRequest)).scalar_one()
        assert request.status == "scheduled"
    # A re-install within the grace period cancels the deletion.
    connect_world.install(client_key=client_key)
    with runtime.db.tenant_session(tenant_id) as session:
        assert session.execute(select(DeletionRequest.status)).scalar_one() == "cancelled"


def test_invalid_lifecycle_body_is_400_with_the_field(connect_world: ConnectWorld) -> None:
    body = lifecycle_body("installed", "c-1", sharedSecret="short")
    response = connect_world.client.post("/connect/lifecycle/installed", json=body)
    assert response.status_code == 400
    assert "sharedSecret" in response.json["message"]
    response = connect_world.client.post("/connect/lifecycle/installed", data="not json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [("baseUrl", "https://[site.atlassian.test"), ("cloudId", "cloud\x00id")],
)
def test_a_signed_install_the_app_cannot_store_is_400(
    connect_world: ConnectWorld, runtime: Runtime, field: str, value: str
) -> None:
    """Values the schema lets through but urlsplit or PostgreSQL refuse (found by
    schemathesis, tests/test_openapi.py) are the sender's mistake, not a 500."""
    response, client_key, _ = connect_world.install(**{field: value})
    assert response.status_code == 400, response.json
    assert runtime.db.directory_lookup("connect_client_key", client_key) is None
