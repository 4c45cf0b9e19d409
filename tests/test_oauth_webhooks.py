"""The dynamic-webhook route of connected sites: only an HS256 Bearer JWT signed with our
client secret, naming the connection's own site, gets a body into the inbox; everything
else is refused with the reason in plain words."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from sqlalchemy import select

from config import Settings
from models.webhook_events import WebhookEvent
from runtime import Runtime
from tests.oauth_world import CLIENT_ID, OAuthWorld, oauth_world
from tests.support.connect_tokens import hmac_token, new_rsa_key, unsigned_token


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[OAuthWorld]:
    with oauth_world(settings, runtime, "io.tandem.oauth-webhooks") as built:
        for site in ("beta", "gamma"):
            assert built.consent(sites=(site,)).status_code == 200
        yield built


def claims(world: OAuthWorld, site: str = "beta", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    cloud_id = world.sandbox.cloud_id(site)
    base = {
        "iss": f"jira:{cloud_id}",
        "aud": CLIENT_ID,
        "sub": "557058:someone",
        "context": {"cloudId": cloud_id},
        "iat": now,
        "exp": now + 180,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(world: OAuthWorld, site: str = "beta", **overrides: Any) -> str:
    return jwt.encode(claims(world, site, **overrides), world.client_secret, algorithm="HS256")


def body(event: str = "jira:issue_updated") -> dict[str, Any]:
    return {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": event,
        "issue_event_type_name": "issue_updated",
        "user": {"accountId": "557058:someone"},
        "issue": {"id": "10001", "key": "BET-1", "fields": {"project": {"key": "BET"}}},
    }


def post(
    world: OAuthWorld,
    token: str | None,
    connection_id: object = None,
    payload: object = None,
    identifier: str | None = None,
    scheme: str = "Bearer",
) -> requests.Response:
    target = connection_id or world.connection("beta").id
    headers = {"X-Atlassian-Webhook-Identifier": identifier or str(uuid.uuid4())}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    return requests.post(
        f"{world.url}/oauth/webhooks/{target}",
        json=body() if payload is None else payload,
        headers=headers,
        timeout=10,
    )


def test_a_signed_delivery_lands_in_the_inbox_once(world: OAuthWorld) -> None:
    identifier = str(uuid.uuid4())
    first = post(world, signed(world), identifier=identifier)
    assert first.status_code == 202, first.text
    again = post(world, signed(world), identifier=identifier)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        row = session.execute(
            select(WebhookEvent).where(WebhookEvent.identifier == identifier)
        ).scalar_one()
    assert row.connection_id == world.connection("beta").id
    assert row.installation_id is None
    assert row.event == "jira:issue_updated"


ATTACKS = {
    "no token": lambda w: (None, "Bearer"),
    "a Connect JWT scheme": lambda w: (signed(w), "JWT"),
    "alg none": lambda w: (unsigned_token(claims(w)), "Bearer"),
    "HS512": lambda w: (
        jwt.encode(claims(w), w.client_secret + "-long-enough-for-hs512", algorithm="HS512"),
        "Bearer",
    ),
    "RS256": lambda w: (jwt.encode(claims(w), new_rsa_key(), algorithm="RS256"), "Bearer"),
    "another secret": lambda w: (jwt.encode(claims(w), "x" * 43, algorithm="HS256"), "Bearer"),
    "expired": lambda w: (
        signed(w, iat=int(time.time()) - 600, exp=int(time.time()) - 300),
        "Bearer",
    ),
    "no exp": lambda w: (signed(w, exp=None), "Bearer"),
    "no iat": lambda w: (signed(w, iat=None), "Bearer"),
    "another audience": lambda w: (signed(w, aud="someone-else"), "Bearer"),
    "no site": lambda w: (signed(w, iss="x", context=None), "Bearer"),
    "issuer and site disagree": lambda w: (
        signed(w, iss=f"jira:{w.sandbox.cloud_id('gamma')}"),
        "Bearer",
    ),
    "another site's token": lambda w: (signed(w, site="gamma"), "Bearer"),
    "an unconnected site": lambda w: (
        signed(w, iss=f"jira:{uuid.uuid4()}", context={"cloudId": str(uuid.uuid4())}),
        "Bearer",
    ),
    "alg header lies": lambda w: (
        hmac_token(claims(w), w.client_secret.encode(), {"alg": "HS384"}),
        "Bearer",
    ),
    "a huge token": lambda w: ("x" * 9000, "Bearer"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_forged_deliveries_are_refused(world: OAuthWorld, attack: str) -> None:
    token, scheme = ATTACKS[attack](world)
    answer = post(world, token, scheme=scheme)
    assert answer.status_code == 401, (attack, answer.text)
    assert answer.json()["message"]
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        found = session.execute(
            select(WebhookEvent.id).where(WebhookEvent.connection_id.is_not(None))
        ).all()
    assert len(found) <= 1, "only the one valid delivery of the first test"


def test_a_connection_id_of_another_site_or_nobody_is_refused(world: OAuthWorld) -> None:
    gamma = world.connection("gamma").id
    assert post(world, signed(world, site="beta"), connection_id=gamma).status_code == 401
    assert post(world, signed(world), connection_id=uuid.uuid4()).status_code == 401
    assert post(world, signed(world), connection_id="not-a-uuid").status_code == 404


def test_bodies_are_validated(world: OAuthWorld) -> None:
    bad = post(world, signed(world), payload={"webhookEvent": "jira:issue_updated"})
    assert bad.status_code == 400 and "timestamp" in bad.json()["message"]
    unsubscribed = {"timestamp": 1, "webhookEvent": "attachment_created", "attachment": {"id": 1}}
    refused = post(world, signed(world), payload=unsubscribed)
    assert refused.status_code == 400 and "attachment_created" in refused.json()["message"]
