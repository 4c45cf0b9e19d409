"""Connecting a remote site through OAuth 2.0 (3LO), end to end over real HTTP: the
consent asks exactly the registry's scopes, the callback stores sealed tokens, forged,
expired, replayed and denied consents are refused in plain words, and a consent that
grants fewer scopes leaves Tandem unable to write (and says so)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import text

from app import create_app
from auth.oauth_state import STATE_SALT
from config import Settings
from jira.calls import oauth_scopes
from jira.errors import AuthorizationError
from jira.meter import CallMeter
from models.connections import tokens_of
from runtime import Runtime
from sync.sites import client_for
from tests.oauth_world import CLIENT_ID, OAuthWorld, oauth_world


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[OAuthWorld]:
    with oauth_world(settings, runtime, "io.tandem.oauth-connect") as built:
        yield built


def callback_params(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))


def test_start_sends_the_admin_to_consent_for_exactly_the_registry_scopes(
    world: OAuthWorld,
) -> None:
    started = world.start()
    assert started.status_code == 302
    location = started.headers["Location"]
    assert location.startswith(f"{world.sandbox.url}/authorize?")
    params = callback_params(location)
    assert params["scope"].split(" ") == oauth_scopes()
    assert {k: v for k, v in params.items() if k not in ("scope", "state")} == {
        "audience": "api.atlassian.com",
        "client_id": CLIENT_ID,
        "redirect_uri": f"{world.url}/oauth/callback",
        "response_type": "code",
        "prompt": "consent",
    }
    assert params["state"]


def test_start_needs_a_jira_admins_context_jwt(world: OAuthWorld) -> None:
    anonymous = requests.get(f"{world.url}/connect/oauth/start", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 401
    forged = world.start(world.context_jwt(iss="someone-else"))
    assert forged.status_code == 401
    grace = world.sandbox.state.sites["alpha"].humans[1]  # on the site, not a Jira admin
    not_admin = world.start(world.context_jwt(sub=grace))
    assert not_admin.status_code == 403, not_admin.text
    assert "Jira administrator" in not_admin.json()["message"]


def test_consent_connects_the_site_with_sealed_tokens(world: OAuthWorld) -> None:
    page = world.consent()
    assert page.status_code == 200, page.text
    beta = world.sandbox.site_url("beta")
    assert "Connected" in page.text and beta in page.text
    assert page.headers["Cache-Control"] == "no-store"
    connection = world.connection("beta")
    assert (connection.site_url, connection.status) == (beta, "active")
    assert set(connection.scopes.split()) == set(oauth_scopes())
    assert connection.installation_id == world.installation_id
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        access, refresh = tokens_of(session, world.runtime.keys, connection)
    assert access and refresh and access != refresh
    with world.runtime.db.tenant_connection(world.tenant_id) as db:
        row = db.execute(
            text(
                "SELECT c::text || encode(access_token, 'escape') "
                "|| encode(refresh_token, 'escape') FROM connections c WHERE id = :id"
            ),
            {"id": connection.id},
        ).scalar_one()
    for token in (access, refresh):
        assert token not in page.text
        for form in (token, token.encode().hex(), base64.b64encode(token.encode()).decode()):
            assert form not in row
    directory = world.runtime.db.directory_lookup("cloud_id", world.sandbox.cloud_id("beta"))
    assert directory == world.tenant_id
    (audit,) = world.audits("connection.connected")
    assert audit.details["site_url"] == beta
    assert access not in str(audit.details) and refresh not in str(audit.details)


def test_consenting_again_reconnects_the_same_connection(world: OAuthWorld) -> None:
    before = world.connection("beta")
    page = world.consent()
    assert page.status_code == 200 and "Reconnected" in page.text
    after = world.connection("beta")
    assert after.id == before.id
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        old_tokens = tokens_of(session, world.runtime.keys, before)
        new_tokens = tokens_of(session, world.runtime.keys, after)
    assert set(old_tokens).isdisjoint(new_tokens)
    assert len(world.audits("connection.reconnected")) >= 1


def test_a_forged_state_is_refused_in_plain_words(world: OAuthWorld) -> None:
    location = world.approve()
    params = callback_params(location)
    forged_key = URLSafeTimedSerializer("not-our-secret-key-" * 3, salt=STATE_SALT)
    forged = forged_key.dumps(
        {"t": str(world.tenant_id), "i": str(world.installation_id), "n": "x"}
    )
    for state in (forged, params["state"][:-2] + "xx", "", "garbage"):
        page = requests.get(
            f"{world.url}/oauth/callback",
            params={"code": params["code"], "state": state},
            timeout=10,
        )
        assert page.status_code == 400, state
        assert "not issued by Tandem" in page.text or "missing" in page.text
        assert params["code"] not in page.text


def test_an_expired_state_is_refused(world: OAuthWorld) -> None:
    class ElevenMinutesAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 660

    old = URLSafeTimedSerializer(
        world.runtime.settings.secret_key, salt=STATE_SALT, signer=ElevenMinutesAgo
    ).dumps({"t": str(world.tenant_id), "i": str(world.installation_id), "n": "old"})
    page = requests.get(
        f"{world.url}/oauth/callback", params={"code": "c", "state": old}, timeout=10
    )
    assert page.status_code == 400
    assert "longer than 10 minutes" in page.text


def test_a_callback_link_works_once(world: OAuthWorld) -> None:
    location = world.approve()
    assert requests.get(location, timeout=10).status_code == 200
    again = requests.get(location, timeout=10)
    assert again.status_code == 400
    assert "already used" in again.text


def test_a_denied_consent_shows_a_readable_page(world: OAuthWorld) -> None:
    location = world.approve(decision="deny")
    assert callback_params(location)["error"] == "access_denied"
    page = requests.get(location, timeout=10)
    assert page.status_code == 400
    assert "The site was not connected" in page.text
    assert "denied" in page.text


def test_a_used_code_is_refused_without_connecting(world: OAuthWorld) -> None:
    params = callback_params(world.approve())
    world.sandbox.exchange_code(
        CLIENT_ID, world.client_secret, params["code"], f"{world.url}/oauth/callback"
    )
    page = requests.get(f"{world.url}/oauth/callback", params=params, timeout=10)
    assert page.status_code == 400
    assert "refused the authorization code" in page.text


def test_fewer_scopes_granted_means_writes_are_refused(world: OAuthWorld) -> None:
    granted = [scope for scope in oauth_scopes() if scope != "write:jira-work"]
    page = world.consent(sites=("gamma",), scopes=granted)
    assert page.status_code == 200, page.text
    assert "fewer permissions" in page.text and "write:jira-work" in page.text
    connection = world.connection("gamma")
    assert "write:jira-work" not in connection.scopes.split()
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        client, site = client_for(world.runtime, session, "connection", connection.id, CallMeter())
    assert site == world.sandbox.site_url("gamma")
    assert client.call("get_project", path_params={"key": "GAM"}).json()["key"] == "GAM"
    fields = {"project": {"key": "GAM"}, "issuetype": {"name": "Task"}, "summary": "Nope"}
    with pytest.raises(AuthorizationError, match="scope does not match"):
        client.call("create_issue", json={"fields": fields})
    assert world.connection("gamma").status == "active", "a missing scope is not a revocation"


def test_oauth_routes_answer_503_until_configured(settings: Settings) -> None:
    for overrides, words in (
        ({"oauth_client_id": "", "oauth_client_secret": ""}, "OAUTH_CLIENT_ID"),
        (
            {"oauth_client_id": "x", "oauth_client_secret": "y", "secret_key": ""},
            "TANDEM_SECRET_KEY",
        ),
    ):
        app = create_app(replace(settings, **overrides))
        try:
            client = app.test_client()
            for path in ("/connect/oauth/start", "/oauth/callback?code=a&state=b"):
                answer = client.get(path)
                assert answer.status_code == 503, path
                assert words in answer.get_data(as_text=True)
        finally:
            app.extensions["tandem"].close()
