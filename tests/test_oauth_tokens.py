"""Access tokens of a connected site: refreshed before they expire with the rotating
refresh token saved atomically (concurrent refreshes never reuse one), and a grant
Atlassian stops honouring revokes the connection and pauses its integrations in plain
words until the site is reconnected."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import requests

from config import Settings
from jira.errors import AuthorizationError
from jira.meter import CallMeter
from jira.oauth_tokens import access_token_for
from models.connection_lifecycle import revoked_reason
from models.connections import tokens_of
from models.integration_config import create_integration
from models.integrations import Integration
from runtime import Runtime
from sync.sites import client_for
from tests.oauth_world import CLIENT_ID, OAuthWorld, oauth_world

SHORT_LIFETIME = 2.0  # seconds: always inside the 60 s refresh margin


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[OAuthWorld]:
    with oauth_world(
        settings, runtime, "io.tandem.oauth-tokens", access_token_lifetime=SHORT_LIFETIME
    ) as built:
        page = built.consent()
        assert page.status_code == 200, page.text
        yield built


def stored_tokens(world: OAuthWorld) -> tuple[str, str]:
    connection = world.connection("beta")
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return tokens_of(session, world.runtime.keys, connection)


def refresh_with(world: OAuthWorld, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{world.sandbox.url}/oauth/token",
        json={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": world.client_secret,
            "refresh_token": refresh_token,
        },
        timeout=10,
    )


def test_an_expiring_token_is_refreshed_and_the_rotated_refresh_token_saved(
    world: OAuthWorld,
) -> None:
    access, refresh = stored_tokens(world)
    refreshes = world.grant()["refreshes"]
    token = access_token_for(world.runtime, world.tenant_id, world.connection("beta").id)
    new_access, new_refresh = stored_tokens(world)
    assert token == new_access != access
    assert new_refresh != refresh, "the rotated refresh token is stored"
    assert world.grant()["refreshes"] == refreshes + 1
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        connection = world.connection("beta")
        client, _ = client_for(world.runtime, session, "connection", connection.id, CallMeter())
    assert client.call("myself").json()["accountId"]


def test_concurrent_refreshes_never_present_the_same_refresh_token_twice(
    world: OAuthWorld,
) -> None:
    connection_id = world.connection("beta").id
    tokens: list[str] = []
    errors: list[Exception] = []

    def use() -> None:
        try:
            tokens.append(access_token_for(world.runtime, world.tenant_id, connection_id))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(tokens) == 6
    grant = world.grant()
    assert grant["active"], grant["revoked_reason"]
    assert world.connection("beta").status == "active"


def test_a_grant_atlassian_stops_honouring_pauses_its_integrations(world: OAuthWorld) -> None:
    connection = world.connection("beta")
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        integration = create_integration(
            session,
            {
                "name": "ALP to BET",
                "direction": "one_way",
                "fields": ["summary"],
                "source": {
                    "kind": "installation",
                    "id": str(world.installation_id),
                    "project": "ALP",
                },
                "target": {"kind": "connection", "id": str(connection.id), "project": "BET"},
                "enabled": True,
            },
        )
    _, old_refresh = stored_tokens(world)
    access_token_for(world.runtime, world.tenant_id, connection.id)  # rotates old_refresh
    used = refresh_with(world, old_refresh)
    assert used.status_code == 403 and used.json()["error"] == "invalid_grant"
    assert not world.grant_or_none(), "reuse detection revoked the whole grant"

    with pytest.raises(AuthorizationError) as raised:
        access_token_for(world.runtime, world.tenant_id, connection.id)
    reason = revoked_reason(world.sandbox.site_url("beta"))
    assert str(raised.value) == reason
    revoked = world.connection("beta")
    assert (revoked.status, revoked.status_reason) == ("revoked", reason)
    assert revoked.access_token is None and revoked.refresh_token is None
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert session.get(Integration, integration.id).paused_reason == reason
    (audit,) = world.audits("connection.revoked")
    assert audit.details["paused_integrations"] == [str(integration.id)]

    with pytest.raises(AuthorizationError, match="reconnect the site"):
        access_token_for(world.runtime, world.tenant_id, connection.id)
    assert len(world.audits("connection.revoked")) == 1, "no second trip to Atlassian"

    page = world.consent()
    assert page.status_code == 200 and "Resumed 1 paused integration" in page.text
    assert world.connection("beta").status == "active"
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert session.get(Integration, integration.id).paused_reason is None
    resumed = world.audits("connection.reconnected")[-1]
    assert resumed.details["resumed_integrations"] == [str(integration.id)]
    assert access_token_for(world.runtime, world.tenant_id, connection.id)


def test_an_unknown_connection_is_refused(world: OAuthWorld) -> None:
    with pytest.raises(AuthorizationError, match="removed"):
        access_token_for(world.runtime, world.tenant_id, uuid.uuid4())
