"""Acceptance 3: forged, replayed and malformed Connect JWTs are refused with 401;
valid tokens made by the atlassian-jwt library are accepted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import pytest
from atlassian_jwt import encode_token
from atlassian_jwt.url_utils import hash_url

from tests.connect_fixtures import BASE_URL, INSTALLED, ConnectWorld, lifecycle_body
from tests.support.connect_tokens import (
    hmac_token,
    install_token,
    new_rsa_key,
    public_pem,
    secret_token,
    unsigned_token,
)

WEBHOOK = "/connect/webhooks/issue-created"


def webhook_body() -> dict:
    return {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": "jira:issue_created",
        "issue": {"id": "10001", "key": "ALP-1", "fields": {"summary": "hello"}},
    }


@dataclass
class Case:
    name: str
    route: str  # "install" or "webhook"
    token: Callable[[ConnectWorld, str, str, str], str]  # world, client key, secret, other secret
    reason: str  # a fragment of the plain-words reason
    fetches_key: bool = True


def _install(world: ConnectWorld, client_key: str, **overrides: object) -> str:
    return install_token(world.signing_key, world.kid, client_key, BASE_URL, INSTALLED, **overrides)


def _hook(secret: str, client_key: str, **overrides: object) -> str:
    return secret_token(secret, client_key, "POST", WEBHOOK, **overrides)


# fmt: off
CASES = [
    Case("alg none on install", "install",
         lambda w, c, s, o: unsigned_token({"iss": c, "aud": BASE_URL, "exp": 2**31, "iat": 1,
                                            "qsh": hash_url("POST", INSTALLED)}),
         "RS256", fetches_key=False),
    Case("alg none on webhook", "webhook",
         lambda w, c, s, o: unsigned_token({"iss": c, "exp": 2**31, "iat": 1,
                                            "qsh": hash_url("POST", WEBHOOK)}),
         "HS256"),
    Case("HS256 on the install route", "install",
         lambda w, c, s, o: jwt.encode({"iss": c, "aud": BASE_URL, "exp": 2**31,
                                        "iat": int(time.time()),
                                        "qsh": hash_url("POST", INSTALLED)}, s, algorithm="HS256"),
         "RS256", fetches_key=False),
    Case("HS256 keyed with the RSA public key (alg confusion)", "install",
         lambda w, c, s, o: hmac_token(
             {"iss": c, "aud": BASE_URL, "exp": 2**31, "iat": int(time.time()),
              "qsh": hash_url("POST", INSTALLED)},
             public_pem(w.signing_key), headers={"kid": w.kid}),
         "RS256", fetches_key=False),
    Case("RS256 token on a webhook", "webhook",
         lambda w, c, s, o: install_token(w.signing_key, w.kid, c, BASE_URL, WEBHOOK),
         "HS256"),
    Case("RS256 signed by an unknown key (unknown kid)", "install",
         lambda w, c, s, o: install_token(new_rsa_key(), "kid-unknown", c, BASE_URL, INSTALLED),
         "unknown"),
    Case("RS256 signed by another key under a known kid", "install",
         lambda w, c, s, o: install_token(new_rsa_key(), w.kid, c, BASE_URL, INSTALLED),
         "signature"),
    Case("kid with path traversal", "install",
         lambda w, c, s, o: install_token(w.signing_key, "../../etc/passwd", c, BASE_URL,
                                          INSTALLED),
         "plain identifier", fetches_key=False),
    Case("kid that is a URL", "install",
         lambda w, c, s, o: install_token(w.signing_key, "https://evil.example/k", c, BASE_URL,
                                          INSTALLED),
         "plain identifier", fetches_key=False),
    Case("kid with control characters", "install",
         lambda w, c, s, o: install_token(w.signing_key, "kid\r\nX-Injected: 1", c, BASE_URL,
                                          INSTALLED),
         "plain identifier", fetches_key=False),
    Case("over-long kid", "install",
         lambda w, c, s, o: install_token(w.signing_key, "k" * 300, c, BASE_URL, INSTALLED),
         "plain identifier", fetches_key=False),
    Case("expired install token", "install",
         lambda w, c, s, o: _install(w, c, iat=int(time.time()) - 600,
                                     exp=int(time.time()) - 120),
         "expired"),
    Case("iat in the future beyond leeway", "install",
         lambda w, c, s, o: _install(w, c, iat=int(time.time()) + 300,
                                     exp=int(time.time()) + 600),
         "future"),
    Case("missing exp", "install", lambda w, c, s, o: _install(w, c, exp=None), "'exp'"),
    Case("wrong aud", "install",
         lambda w, c, s, o: _install(w, c, aud="https://attacker.example"), "audience"),
    Case("iss is not the body's clientKey", "install",
         lambda w, c, s, o: _install(w, "someone-else"), "issuer"),
    Case("qsh for another method", "install",
         lambda w, c, s, o: _install(w, c, qsh=hash_url("GET", INSTALLED)), "qsh"),
    Case("qsh for another path", "install",
         lambda w, c, s, o: _install(w, c, qsh=hash_url("POST", "/connect/lifecycle/enabled")),
         "qsh"),
    Case("qsh for another query", "webhook",
         lambda w, c, s, o: _hook(s, c, qsh=hash_url("POST", WEBHOOK + "?user=admin")), "qsh"),
    Case("context-qsh on a webhook", "webhook",
         lambda w, c, s, o: _hook(s, c, qsh="context-qsh"), "context-qsh"),
    Case("token for tenant A signed with tenant B's secret", "webhook",
         lambda w, c, s, o: _hook(o, c), "signature"),
    Case("expired webhook token", "webhook",
         lambda w, c, s, o: _hook(s, c, iat=int(time.time()) - 600, exp=int(time.time()) - 60),
         "expired"),
    Case("missing iat on a webhook", "webhook", lambda w, c, s, o: _hook(s, c, iat=None), "'iat'"),
    Case("unknown issuer", "webhook", lambda w, c, s, o: _hook(s, "not-installed"), "issuer"),
    Case("wrong aud on a webhook", "webhook",
         lambda w, c, s, o: _hook(s, c, aud="https://attacker.example"), "audience"),
    Case("over-long token", "webhook",
         lambda w, c, s, o: _hook(s, c, padding="x" * 9000), "too long"),
    Case("garbage token", "webhook", lambda w, c, s, o: "not.a.jwt", "malformed"),
]


@pytest.fixture
def two_sites(connect_world: ConnectWorld) -> tuple[str, str, str]:
    _, client_a, secret_a = connect_world.install()
    _, _, secret_b = connect_world.install()
    return client_a, secret_a, secret_b


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_attack_is_refused(
    connect_world: ConnectWorld, two_sites, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    client_key, secret, other_secret = two_sites
    if case.route == "install":
        client_key = f"client-{uuid.uuid4()}"  # a fresh site trying to install
    token = case.token(connect_world, client_key, secret, other_secret)
    fetched_before = list(connect_world.key_server.requests)
    if case.route == "install":
        body = lifecycle_body("installed", client_key, sharedSecret="s" * 40)
        response = connect_world.client.post(
            INSTALLED, json=body, headers={"Authorization": f"JWT {token}"}
        )
    else:
        response = connect_world.client.post(
            WEBHOOK,
            json=webhook_body(),
            headers={"Authorization": f"JWT {token}", "X-Atlassian-Webhook-Identifier": "x-1"},
        )
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == "JWT"
    assert case.reason in response.json["message"], response.json["message"]
    assert token not in response.get_data(as_text=True)
    assert case.reason in caplog.text, "the refusal is logged with its reason"
    assert token not in caplog.text, "the token itself is never logged"
    if not case.fetches_key:
        assert connect_world.key_server.requests == fetched_before, "no fetch for a hostile kid"


def test_missing_or_wrong_scheme_is_refused(connect_world: ConnectWorld) -> None:
    for headers in ({}, {"Authorization": "Bearer abc"}):
        response = connect_world.client.post(WEBHOOK, json=webhook_body(), headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "JWT"


def test_there_are_at_least_twenty_attacks() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(
    "query",
    [
        "",
        "issueKey=ALP-1",
        "b=2&a=1&a=0",
        "x=a%20b&y=with+plus&z=~tilde*star",
        "repeat=z&repeat=a&repeat=m&empty=",
        "q=%2B%7E%2A&s=a b",
    ],
)
def test_atlassian_jwt_tokens_are_accepted(
    connect_world: ConnectWorld, two_sites, query: str
) -> None:
    client_key, secret, _ = two_sites
    url = "/connect/admin" + (f"?{query}" if query else "")
    token = encode_token("GET", url, client_key, secret)
    response = connect_world.client.get(url, headers={"Authorization": f"JWT {token}"})
    assert response.status_code == 200, response.json


def test_context_qsh_is_accepted_on_iframe_routes_only(
    connect_world: ConnectWorld, two_sites
) -> None:
    client_key, secret, _ = two_sites
    issue = {"jira": {"issue": {"id": "10001", "key": "ALP-1"}}}  # Jira names the issue
    token = secret_token(
        secret, client_key, "GET", "/", qsh="context-qsh", sub="someone", context=issue
    )
    panel = connect_world.client.get(f"/connect/issue-panel?issueKey=ALP-1&jwt={token}")
    assert panel.status_code == 200
    assert "Tandem does not sync this issue" in panel.text
