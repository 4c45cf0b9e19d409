"""Acceptance 2: forged, misdirected and malformed Forge Invocation Tokens are refused
with 401 (the reason in plain words, the token never echoed or logged) and write
nothing; valid ones from two sites land in their own tenants' inboxes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import jwt
import pytest
from flask import Flask, Response, jsonify
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from auth.forge_keys import ForgeKeys
from config import Settings
from models.forge_lifecycle import ForgeIdentity, install_forge_site
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sandbox.forge_tokens import ForgeKey
from tests.support.connect_tokens import hmac_token, new_rsa_key, public_pem, unsigned_token
from tests.support.http_server import serving

APP_ID = "ari:cloud:ecosystem::app/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
OTHER_APP = "ari:cloud:ecosystem::app/11111111-2222-4333-8444-555555555555"
KID = "forge/invocation-token/test-key-1"
EVENTS = "/forge/events"


@dataclass
class Site:
    installation_id: str
    cloud_id: str
    tenant_id: uuid.UUID

    @property
    def api(self) -> str:
        return f"https://api.atlassian.test/ex/jira/{self.cloud_id}"


@dataclass
class Jwks:
    keys: list[ForgeKey]
    requests: list[str]

    def app(self) -> Flask:
        app = Flask("forge-jwks")

        @app.get("/.well-known/jwks.json")
        def jwks() -> Response:
            self.requests.append("jwks")
            return jsonify({"keys": [key.jwk() for key in self.keys]})

        return app


@dataclass
class World:
    client: FlaskClient
    runtime: Runtime
    jwks: Jwks
    key: ForgeKey
    a: Site
    b: Site


@pytest.fixture(scope="module")
def forge_key() -> ForgeKey:
    return ForgeKey(KID, new_rsa_key())


def _site(runtime: Runtime, name: str) -> Site:
    who = ForgeIdentity(
        f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
        APP_ID,
        str(uuid.uuid4()),
        "",
    )
    who = replace(who, api_base_url=f"https://api.atlassian.test/ex/jira/{who.cloud_id}")
    site = install_forge_site(runtime.db, runtime.keys, who, f"https://{name}.atlassian.test")
    return Site(who.installation_id, who.cloud_id, site.tenant_id)


@pytest.fixture(scope="module")
def shared_world(settings: Settings, runtime: Runtime, forge_key: ForgeKey) -> Iterator[World]:
    jwks = Jwks([forge_key], [])
    with serving(jwks.app()) as url:
        app = create_app(
            replace(
                settings,
                forge_app_id=APP_ID,
                forge_jwks_url=f"{url}/.well-known/jwks.json",
                webhook_max_bytes=64 * 1024,
            )
        )
        yield World(
            app.test_client(),
            app.extensions["tandem"],
            jwks,
            forge_key,
            _site(runtime, "alpha"),
            _site(runtime, "beta"),
        )
        app.extensions["tandem"].close()


@pytest.fixture
def world(shared_world: World) -> World:
    """The module's world with a JWKS client of its own (nothing fetched yet)."""
    shared_world.runtime.forge_keys = ForgeKeys(shared_world.runtime.settings.forge_jwks_url)
    shared_world.jwks.keys[1:] = []
    return shared_world


def claims(site: Site, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "app": {
            "id": APP_ID,
            "installationId": site.installation_id,
            "apiBaseUrl": site.api,
            "module": {"type": "core:endpoint", "key": "tandem-events"},
        },
        "context": {"cloudId": site.cloud_id, "moduleKey": "tandem-jira-events"},
        "aud": APP_ID,
        "iss": "forge/invocation-token",
        "iat": now,
        "nbf": now,
        "exp": now + 25,
        "jti": uuid.uuid4().hex,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def fit(key: Any, site: Site, kid: str = KID, **overrides: Any) -> str:
    return jwt.encode(claims(site, **overrides), key, algorithm="RS256", headers={"kid": kid})


def event() -> dict[str, Any]:
    return {
        "eventType": "avi:jira:created:issue",
        "atlassianId": "557058:person",
        "issue": {
            "id": str(10000 + int(time.time_ns() % 100000)),
            "key": "ALP-1",
            "fields": {"summary": "hello", "updated": "2026-12-02T10:00:00.000+0000"},
        },
    }


def _app(w: World, **app: Any) -> dict[str, Any]:
    return {**claims(w.a)["app"], **app}


@dataclass
class Case:
    name: str
    token: Callable[[World], str]
    reason: str
    fetches: bool = True  # reaches the key look-up (one JWKS fetch, the cache being new)


# fmt: off
CASES = [
    Case("wrong aud", lambda w: fit(w.key.private_key, w.a, aud=OTHER_APP), "audience"),
    Case("aud missing", lambda w: fit(w.key.private_key, w.a, aud=None), "'aud'"),
    Case("wrong iss", lambda w: fit(w.key.private_key, w.a, iss="forge/other"), "issuer"),
    Case("expired", lambda w: fit(w.key.private_key, w.a, iat=int(time.time()) - 300,
                                  nbf=int(time.time()) - 300, exp=int(time.time()) - 120),
         "expired"),
    Case("not yet valid (nbf)", lambda w: fit(w.key.private_key, w.a,
                                              nbf=int(time.time()) + 300,
                                              exp=int(time.time()) + 600), "future"),
    Case("issued in the future", lambda w: fit(w.key.private_key, w.a,
                                               iat=int(time.time()) + 300,
                                               exp=int(time.time()) + 600), "future"),
    Case("exp missing", lambda w: fit(w.key.private_key, w.a, exp=None), "'exp'"),
    Case("unknown kid", lambda w: fit(new_rsa_key(), w.a, kid="forge/invocation-token/nope"),
         "unknown"),
    Case("another key under our kid", lambda w: fit(new_rsa_key(), w.a), "signature"),
    Case("HS256 signed with the public key (alg confusion)",
         lambda w: hmac_token(claims(w.a), public_pem(w.key.private_key), {"kid": KID}),
         "RS256", fetches=False),
    Case("alg none", lambda w: unsigned_token(claims(w.a), {"kid": KID}), "RS256",
         fetches=False),
    Case("kid with control characters",
         lambda w: fit(w.key.private_key, w.a, kid="forge/x\r\nX-Injected: 1"),
         "plain identifier", fetches=False),
    Case("over-long kid", lambda w: fit(w.key.private_key, w.a, kid="k" * 300),
         "plain identifier", fetches=False),
    Case("installationId of another tenant",
         lambda w: fit(w.key.private_key, w.a,
                       app=_app(w, installationId=w.b.installation_id)),
         "another site"),
    Case("cloudId of another tenant",
         lambda w: fit(w.key.private_key, w.a,
                       context={"cloudId": w.b.cloud_id},
                       app=_app(w, apiBaseUrl=w.b.api)),
         "another site"),
    Case("an installation Tandem never saw",
         lambda w: fit(w.key.private_key, w.a,
                       app=_app(w, installationId=f"ari:cloud:ecosystem::installation/"
                                                  f"{uuid.uuid4()}")),
         "not an installation"),
    Case("no installationId", lambda w: fit(w.key.private_key, w.a,
                                            app=_app(w, installationId=None)), "installation"),
    Case("apiBaseUrl of another site",
         lambda w: fit(w.key.private_key, w.a, app=_app(w, apiBaseUrl=w.b.api)), "apiBaseUrl"),
    Case("app.id of another app", lambda w: fit(w.key.private_key, w.a,
                                                app=_app(w, id=OTHER_APP)), "app"),
    Case("garbage", lambda w: "not.a.jwt", "malformed", fetches=False),
]
# fmt: on


def _rows(w: World, site: Site) -> int:
    with w.runtime.db.tenant_session(site.tenant_id) as session:
        return session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()


def _inbox_rows(w: World) -> int:
    return _rows(w, w.a) + _rows(w, w.b)


def _post(w: World, authorization: str | None) -> Any:
    headers = {"Authorization": authorization} if authorization else {}
    return w.client.post(EVENTS, json=event(), headers=headers)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_forged_tokens_are_refused(
    world: World, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    token = case.token(world)
    fetched, rows = len(world.jwks.requests), _inbox_rows(world)
    response = _post(world, f"Bearer {token}")
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert case.reason in response.json["message"], response.json["message"]
    assert token not in response.get_data(as_text=True)
    assert token not in caplog.text, "the token itself is never logged"
    assert _inbox_rows(world) == rows, "a refused event writes nothing"
    assert len(world.jwks.requests) - fetched == (1 if case.fetches else 0)


def test_unknown_kids_refetch_the_jwks_at_a_bounded_rate(world: World) -> None:
    assert _post(world, f"Bearer {fit(world.key.private_key, world.a)}").status_code == 202
    before = len(world.jwks.requests)
    for n in range(5):
        token = fit(new_rsa_key(), world.a, kid=f"forge/invocation-token/made-up-{n}")
        assert _post(world, f"Bearer {token}").status_code == 401
    assert len(world.jwks.requests) - before <= 1, "a flood of made-up kids costs one fetch"


def test_a_rotated_key_is_found_by_refetching(world: World) -> None:
    assert _post(world, f"Bearer {fit(world.key.private_key, world.a)}").status_code == 202
    world.runtime.forge_keys._last_fetch = float("-inf")  # the refresh window has passed
    rotated = ForgeKey("forge/invocation-token/test-key-2", new_rsa_key())
    world.jwks.keys.append(rotated)
    token = fit(rotated.private_key, world.a, kid=rotated.kid)
    assert _post(world, f"Bearer {token}").status_code == 202


def test_missing_or_wrong_scheme_is_refused(world: World) -> None:
    for authorization in (None, "JWT abc", "Basic dXNlcjpwYXNz"):
        response = _post(world, authorization)
        assert response.status_code == 401
        assert "Bearer" in response.json["message"]


def test_each_sites_valid_token_lands_in_its_own_tenant(world: World) -> None:
    for site, other in ((world.a, world.b), (world.b, world.a)):
        before = _rows(world, site), _rows(world, other)
        response = _post(world, f"Bearer {fit(world.key.private_key, site)}")
        assert response.status_code == 202, response.json
        assert (_rows(world, site), _rows(world, other)) == (before[0] + 1, before[1])


def test_there_are_the_attacks_the_issue_names() -> None:
    names = " ".join(case.name for case in CASES)
    for attack in (
        "wrong aud",
        "wrong iss",
        "expired",
        "not yet valid",
        "unknown kid",
        "HS256 signed with the public key",
        "alg none",
        "installationId of another tenant",
    ):
        assert attack in names
