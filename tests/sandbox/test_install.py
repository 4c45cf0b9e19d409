"""The Connect installer: signed install (RS256 + key server), re-install, uninstall,
enable/disable (HS256), and key rotation."""

from __future__ import annotations

import jwt
import requests
from atlassian_jwt.url_utils import hash_url

from tests.sandbox.conftest import APP_KEY, FakeApp, bearer, control, install_key

ALPHA_INSTALL = {"site": "alpha"}


def _verify_signed_install(sb, fake_app: FakeApp, token: str, path: str) -> dict:
    pem = install_key(sb, token)
    claims = jwt.decode(
        token,
        pem,
        algorithms=["RS256"],
        audience=fake_app.base_url,
        options={"require": ["iss", "aud", "qsh", "iat", "exp", "sub"]},
    )
    assert claims["qsh"] == hash_url("POST", path)
    assert claims["exp"] - claims["iat"] == 180
    return claims


def test_signed_install_verifies_with_served_key(sandbox, fake_app):
    result = control(
        sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url
    )
    assert result["installed"] is True
    assert result["status"] == 204

    (call,) = fake_app.calls("/installed")
    token = bearer(call)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["kid"].startswith("sandbox-")
    claims = _verify_signed_install(sandbox, fake_app, token, "/installed")

    body = call.body
    assert claims["iss"] == body["clientKey"] == result["clientKey"]
    assert claims["aud"] == [fake_app.base_url]
    assert body["key"] == APP_KEY
    assert body["eventType"] == "installed"
    assert body["productType"] == "jira"
    assert body["baseUrl"] == sandbox.site_url("alpha")
    assert body["displayUrl"] == sandbox.site_url("alpha")
    assert body["cloudId"] == sandbox.state.sites["alpha"].cloud_id
    assert body["sharedSecret"] == sandbox.shared_secret("alpha", APP_KEY)
    for name in ("serverVersion", "pluginsVersion", "description", "installationId"):
        assert body[name]

    listed = control(sandbox, "GET", "/installations")
    assert listed == [
        {
            **listed[0],
            "site": "alpha",
            "app_key": APP_KEY,
            "clientKey": body["clientKey"],
            "baseUrl": fake_app.base_url,
            "enabled": True,
        }
    ]
    assert (
        body["sharedSecret"]
        not in requests.get(f"{sandbox.url}/sandbox/installations", timeout=5).text
    )


def test_reinstall_keeps_client_key_and_rotates_secret(sandbox, fake_app):
    first = control(
        sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url
    )
    secret = sandbox.shared_secret("alpha", APP_KEY)
    second = control(
        sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url
    )
    assert first["clientKey"] == second["clientKey"]
    calls = fake_app.calls("/installed")
    assert calls[0].body["sharedSecret"] != calls[1].body["sharedSecret"]
    assert sandbox.shared_secret("alpha", APP_KEY) == calls[1].body["sharedSecret"] != secret

    other_site = control(
        sandbox, "POST", "/install", site="beta", descriptor_url=fake_app.descriptor_url
    )
    assert other_site["clientKey"] != first["clientKey"]


def test_install_not_recorded_when_app_refuses(sandbox, fake_app):
    fake_app.answer("/installed", 401)
    result = control(
        sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url
    )
    assert result["installed"] is False
    assert result["status"] == 401
    assert sandbox.state.installation("alpha", APP_KEY) is None
    assert control(sandbox, "GET", "/installations") == []


def test_install_errors(sandbox, fake_app):
    control(sandbox, "POST", "/install", 404, site="gamma", descriptor_url=fake_app.descriptor_url)
    bad_url = f"{fake_app.base_url}/missing.json"
    fake_app.answer("/missing.json", 404)
    failed = control(sandbox, "POST", "/install", 502, site="alpha", descriptor_url=bad_url)
    assert "descriptor" in failed["errorMessages"][0]


def test_uninstall_is_signed_and_forgets(installed):
    sandbox, fake_app = installed
    client_key = sandbox.state.installation("alpha", APP_KEY).client_key
    result = control(sandbox, "POST", "/uninstall", site="alpha", app_key=APP_KEY)
    assert result["uninstalled"] is True and result["status"] == 204

    (call,) = fake_app.calls("/uninstalled")
    claims = _verify_signed_install(sandbox, fake_app, bearer(call), "/uninstalled")
    assert claims["iss"] == client_key == call.body["clientKey"]
    assert call.body["eventType"] == "uninstalled"
    assert "sharedSecret" not in call.body
    assert sandbox.state.installation("alpha", APP_KEY) is None
    control(sandbox, "POST", "/uninstall", 404, site="alpha", app_key=APP_KEY)


def test_enable_disable_signed_with_shared_secret(installed):
    sandbox, fake_app = installed
    secret = sandbox.shared_secret("alpha", APP_KEY)
    control(sandbox, "POST", "/disable", site="alpha", app_key=APP_KEY)
    assert control(sandbox, "GET", "/installations")[0]["enabled"] is False
    control(sandbox, "POST", "/enable", site="alpha", app_key=APP_KEY)
    assert control(sandbox, "GET", "/installations")[0]["enabled"] is True

    for path, event in (("/disabled", "disabled"), ("/enabled", "enabled")):
        (call,) = fake_app.calls(path)
        token = bearer(call)
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
        assert claims["iss"] == call.body["clientKey"]
        assert claims["qsh"] == hash_url("POST", path)
        assert call.body["eventType"] == event


def test_key_rotation_serves_old_and_new(sandbox, fake_app):
    control(sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url)
    old_kid = jwt.get_unverified_header(bearer(fake_app.calls("/installed")[0]))["kid"]
    new_kid = control(sandbox, "POST", "/keys/rotate")["current"]
    assert new_kid != old_kid

    control(sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url)
    token = bearer(fake_app.calls("/installed")[1])
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    _verify_signed_install(sandbox, fake_app, token, "/installed")
    assert requests.get(f"{sandbox.url}/connect-keys/{old_kid}", timeout=5).status_code == 200
    assert requests.get(f"{sandbox.url}/connect-keys/sandbox-unknown", timeout=5).status_code == 404
    assert requests.get(f"{sandbox.url}/connect-keys/..%2Fetc", timeout=5).status_code == 404
