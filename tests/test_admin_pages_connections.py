"""Admin pages, connected sites: "Connect a site" starts Atlassian's consent for this
workspace (the sandbox's OAuth server, driven as a browser would), the page shows the
connected site's status, and "Disconnect" deletes its webhooks, revokes the grant,
destroys the tokens and pauses what used it; role-checked; another workspace can
neither see nor disconnect it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from auth.oauth_state import read_state
from config import Settings
from models.connections import Connection
from tests.admin_fixtures import OAUTH_CLIENT, AdminWorld, admin_world


@pytest.fixture(scope="module")
def world(settings: Settings) -> Iterator[AdminWorld]:
    with admin_world(settings, "admin-connections", sites=("alpha", "beta"), oauth=True) as built:
        yield built


def connect_beta(world: AdminWorld) -> None:
    """Press "Connect a site", consent to beta at the sandbox, follow the callback."""
    started = world.post("admin", "/connections/connect")
    assert started.status_code == 303, started.text
    location = started.headers["Location"]
    assert location.startswith(f"{world.sandbox.url}/authorize?")
    consent = dict(parse_qsl(urlsplit(location).query))
    state = read_state(world.runtime.settings.secret_key, consent["state"])
    assert (state.tenant_id, state.installation_id) == (world.tenant_id, world.installation_id)
    answer = requests.post(
        f"{world.sandbox.url}/authorize",
        data={**consent, "decision": "approve", "site": "beta"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    done = world.app.test_client().get(f"{callback.path}?{callback.query}")
    assert done.status_code == 200, done.text


def beta(world: AdminWorld) -> Connection:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return session.query(Connection).filter_by(cloud_id=world.sandbox.cloud_id("beta")).one()


def test_connecting_a_site_shows_it_active(world: AdminWorld) -> None:
    empty = world.get("viewer", "/connections")
    assert empty.status_code == 200 and 'id="no-connections"' in empty.text
    assert 'id="connect-site"' not in empty.text  # viewers may look, not connect
    assert world.post("viewer", "/connections/connect").status_code == 403
    connect_beta(world)
    page = world.get("viewer", "/connections")
    connection = beta(world)
    assert f'data-connection="{connection.id}"' in page.text
    assert connection.site_url in page.text and "Active" in page.text
    assert "Not granted" not in page.text
    assert world.audit("connection.connected")[-1].subject == str(connection.id)


def test_another_workspace_neither_sees_nor_disconnects_it(world: AdminWorld, new_tenant) -> None:
    connection = beta(world)
    theirs = new_tenant("Elsewhere")
    page = world.get("owner", "/connections", tenant=theirs)
    assert connection.site_url not in page.text
    refused = world.post("owner", f"/connections/{connection.id}/disconnect", tenant=theirs)
    assert refused.status_code == 404
    assert beta(world).status == "active"


def test_disconnecting_destroys_the_tokens_and_revokes_the_grant(world: AdminWorld) -> None:
    connection = beta(world)
    assert world.post("member", f"/connections/{connection.id}/disconnect").status_code == 403
    done = world.post("admin", f"/connections/{connection.id}/disconnect")
    assert done.status_code == 303, done.text
    after = beta(world)
    assert after.status == "disconnected" and after.access_token is None
    event = world.audit("connection.disconnected")[-1]
    assert event.subject == str(connection.id) and event.details["data_key_destroyed"]
    assert not any(g["active"] for g in world.sandbox.grants(OAUTH_CLIENT))
    page = world.get("viewer", "/connections")
    assert "Disconnected" in page.text
    again = world.post("admin", f"/connections/{connection.id}/disconnect")
    assert again.status_code == 404


def test_inside_jira_the_consent_opens_outside_the_frame(world: AdminWorld) -> None:
    ada = world.humans[0]
    world.grant(ada, "admin")
    page = world.jira("GET", "/connections", ada)
    assert page.status_code == 200
    assert 'id="connect-form"' in page.text and 'target="_blank"' in page.text
    started = world.jira("POST", "/connections/connect", ada)
    assert started.status_code == 303
    consent = dict(parse_qsl(urlsplit(started.headers["Location"]).query))
    state = read_state(world.runtime.settings.secret_key, consent["state"])
    assert (state.tenant_id, state.installation_id) == (world.tenant_id, world.installation_id)
