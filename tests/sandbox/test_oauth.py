"""OAuth 2.0 (3LO): consent -> code -> tokens, rotating refresh tokens with reuse detection,
accessible-resources, expiry and revocation, and the gateway URL for REST calls."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import requests

from tests.sandbox.conftest import (
    APP_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    app_token,
    oauth_call,
    refresh,
    token_call,
)

AUTHORIZE = {
    "audience": "api.atlassian.com",
    "client_id": CLIENT_ID,
    "scope": "read:jira-work offline_access",
    "redirect_uri": REDIRECT_URI,
    "state": "xyz",
    "response_type": "code",
    "prompt": "consent",
}


def _redirect_query(response: requests.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)


def _exchange(sb, code: str, redirect_uri: str = REDIRECT_URI, secret: str = CLIENT_SECRET):
    return token_call(
        sb,
        grant_type="authorization_code",
        client_id=CLIENT_ID,
        client_secret=secret,
        code=code,
        redirect_uri=redirect_uri,
    )


def test_consent_page_lists_sites_and_scopes(oauth_client):
    response = requests.get(f"{oauth_client.url}/authorize", params=AUTHORIZE, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert "Tandem (OAuth)" in page
    assert "read:jira-work" in page and "offline_access" in page
    assert "value='alpha'" in page and "value='beta'" in page
    assert "name='decision' value='approve'" in page and "value='deny'" in page
    assert "method='post' action='/authorize'" in page


def test_consent_without_a_browser_gives_a_code_and_tokens(oauth_client):
    form = {**AUTHORIZE, "decision": "approve", "site": "beta"}
    response = requests.post(
        f"{oauth_client.url}/authorize", data=form, allow_redirects=False, timeout=5
    )
    query = _redirect_query(response)
    assert query["state"] == ["xyz"]
    tokens = _exchange(oauth_client, query["code"][0])
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["Cache-Control"] == "no-store"
    body = tokens.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "read:jira-work offline_access"

    (grant,) = oauth_client.grants(CLIENT_ID)
    assert grant["sites"] == ["beta"] and grant["active"] is True
    assert "access_token" not in str(grant) and body["access_token"] not in str(grant)


def test_deny_and_authorize_errors(oauth_client):
    url = f"{oauth_client.url}/authorize"
    denied = requests.post(
        url, data={**AUTHORIZE, "decision": "deny"}, allow_redirects=False, timeout=5
    )
    assert _redirect_query(denied)["error"] == ["access_denied"]

    unknown_client = requests.get(url, params={**AUTHORIZE, "client_id": "nope"}, timeout=5)
    assert unknown_client.status_code == 400 and "invalid_client" in unknown_client.text
    other_redirect = {**AUTHORIZE, "redirect_uri": "https://evil.example/cb"}
    wrong_redirect = requests.get(url, params=other_redirect, allow_redirects=False, timeout=5)
    assert wrong_redirect.status_code == 400  # never redirected to an unregistered URI
    assert "redirect_uri" in wrong_redirect.text

    bad_scope = requests.get(
        url,
        params={**AUTHORIZE, "scope": "read:jira-work fly:jira"},
        allow_redirects=False,
        timeout=5,
    )
    query = _redirect_query(bad_scope)
    assert query["error"] == ["invalid_scope"] and query["state"] == ["xyz"]
    assert "fly:jira" in query["error_description"][0]
    for extra in ({"site": "gamma"}, {"site": "alpha,beta", "account_id": "557058:nobody"}):
        form = {**AUTHORIZE, "decision": "approve", **extra}
        refused = requests.post(url, data=form, allow_redirects=False, timeout=5)
        assert refused.status_code == 400 and "invalid_request" in refused.text
    bad_type = requests.get(
        url, params={**AUTHORIZE, "response_type": "token"}, allow_redirects=False, timeout=5
    )
    assert _redirect_query(bad_type)["error"] == ["unsupported_response_type"]


def test_code_is_single_use_and_bound_to_client_and_redirect(oauth_client):
    code = oauth_client.authorize(CLIENT_ID, REDIRECT_URI, ["read:jira-work"])
    wrong_secret = _exchange(oauth_client, code, secret="wrong")
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "access_denied"
    wrong_redirect = _exchange(oauth_client, code, redirect_uri=REDIRECT_URI + "/other")
    assert wrong_redirect.status_code == 403
    assert wrong_redirect.json()["error"] == "invalid_grant"

    first = _exchange(oauth_client, code)
    assert first.status_code == 200
    assert "refresh_token" not in first.json()  # no offline_access, no refresh token
    again = _exchange(oauth_client, code)
    assert again.status_code == 403 and again.json()["error"] == "invalid_grant"
    # a replayed code revokes what it granted (RFC 6749 section 10.5)
    replayed = oauth_call(oauth_client, "GET", "/rest/api/3/label", first.json()["access_token"])
    assert replayed.status_code == 401 and "revoked" in replayed.headers["WWW-Authenticate"]
    (grant,) = oauth_client.grants()
    assert grant["active"] is False and "reused" in grant["revoked_reason"]


def test_refresh_rotates_and_reuse_revokes_the_grant(connected):
    sandbox, tokens = connected
    first = refresh(sandbox, tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]
    assert oauth_call(sandbox, "GET", "/rest/api/3/myself", rotated["access_token"]).ok

    second = refresh(sandbox, rotated["refresh_token"])
    assert second.status_code == 200
    newest = second.json()

    reused = refresh(sandbox, tokens["refresh_token"])  # an old one: reuse detected
    assert reused.status_code == 403
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token.",
    }
    assert refresh(sandbox, newest["refresh_token"]).status_code == 403  # the grant is gone
    denied = oauth_call(sandbox, "GET", "/rest/api/3/myself", newest["access_token"])
    assert denied.status_code == 401
    assert denied.json() == {"code": 401, "message": "Unauthorized"}
    assert "revoked" in denied.headers["WWW-Authenticate"]
    (grant,) = sandbox.grants(CLIENT_ID)
    assert grant["revoked_reason"] == "refresh token reuse detected"
    assert grant["refreshes"] == 2


def test_form_encoded_token_requests_with_basic_auth(oauth_client):
    code = oauth_client.authorize(CLIENT_ID, REDIRECT_URI, ["read:jira-work"])
    response = requests.post(
        f"{oauth_client.url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    unsupported = token_call(
        oauth_client, grant_type="password", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    assert unsupported.status_code == 403
    assert unsupported.json()["error"] == "unsupported_grant_type"


def test_accessible_resources(oauth_client):
    tokens = oauth_client.connect_oauth(
        CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ["read:jira-work"], sites=("alpha", "beta")
    )
    response = requests.get(
        f"{oauth_client.url}/oauth/token/accessible-resources",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert response.status_code == 200
    resources = response.json()
    assert [r["name"] for r in resources] == ["alpha", "beta"]
    beta = resources[1]
    assert beta == {
        "id": oauth_client.cloud_id("beta"),
        "url": oauth_client.site_url("beta"),
        "name": "beta",
        "scopes": ["read:jira-work"],
        "avatarUrl": beta["avatarUrl"],
    }
    anonymous = requests.get(f"{oauth_client.url}/oauth/token/accessible-resources", timeout=5)
    assert anonymous.status_code == 401


def test_access_token_expires(oauth_client):
    oauth_client.register_oauth_client(
        "short-lived", CLIENT_SECRET, [REDIRECT_URI], access_token_lifetime=0.3
    )
    code = oauth_client.authorize("short-lived", REDIRECT_URI, ["read:jira-user"])
    tokens = oauth_client.exchange_code("short-lived", CLIENT_SECRET, code, REDIRECT_URI)
    assert tokens["expires_in"] == 0.3
    assert oauth_call(oauth_client, "GET", "/rest/api/3/myself", tokens["access_token"]).ok
    time.sleep(0.35)
    expired = oauth_call(oauth_client, "GET", "/rest/api/3/myself", tokens["access_token"])
    assert expired.status_code == 401
    assert "expired" in expired.headers["WWW-Authenticate"]


def test_admin_revocation_and_app_revocation(connected):
    sandbox, tokens = connected
    (grant,) = sandbox.grants(CLIENT_ID)
    revoked = sandbox.revoke_grant(grant["grant_id"])
    assert revoked["active"] is False
    assert (
        oauth_call(sandbox, "GET", "/rest/api/3/myself", tokens["access_token"]).status_code == 401
    )
    assert refresh(sandbox, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    missing = requests.post(f"{sandbox.url}/sandbox/oauth/grants/nope/revoke", timeout=5)
    assert missing.status_code == 404

    again = sandbox.connect_oauth(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
    response = requests.post(
        f"{sandbox.url}/oauth/revoke",
        json={
            "token": again["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=5,
    )
    assert response.status_code == 200
    assert (
        oauth_call(sandbox, "GET", "/rest/api/3/myself", again["access_token"]).status_code == 401
    )
    assert [g["active"] for g in sandbox.grants()] == [False, False]


def test_gateway_checks_site_and_auth_kind(connected):
    sandbox, tokens = connected
    other_site = oauth_call(sandbox, "GET", "/rest/api/3/myself", tokens["access_token"], "alpha")
    assert other_site.status_code == 401
    unknown = requests.get(
        f"{sandbox.url}/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert unknown.status_code == 404
    jwt_on_gateway = oauth_call(
        sandbox,
        "GET",
        "/rest/api/3/myself",
        "",
        headers={
            "Authorization": f"JWT {app_token('k' * 32, 'GET', '/rest/api/3/myself', APP_KEY)}"
        },
    )
    assert jwt_on_gateway.status_code == 401
    bearer_on_site = requests.get(
        sandbox.site_url("beta") + "/rest/api/3/myself",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert bearer_on_site.status_code == 401


def test_oauth_calls_act_as_the_consenting_account(connected):
    sandbox, tokens = connected
    me = oauth_call(sandbox, "GET", "/rest/api/3/myself", tokens["access_token"]).json()
    (grant,) = sandbox.grants()
    assert me["accountId"] == grant["account_id"]
    assert me["displayName"] == "Integration User" and me["accountType"] == "atlassian"
    assert me["self"].startswith(sandbox.gateway_url("beta") + "/rest/api/3/user")
    fields = {"project": {"key": "BET"}, "issuetype": {"name": "Task"}, "summary": "Via OAuth"}
    created = oauth_call(
        sandbox, "POST", "/rest/api/3/issue", tokens["access_token"], json={"fields": fields}
    )
    assert created.status_code == 201
    assert created.json()["self"].startswith(sandbox.gateway_url("beta") + "/rest/api/3/issue/")
    issue = sandbox.control("GET", f"/sites/beta/issues/{created.json()['key']}")
    assert issue["fields"]["reporter"]["accountId"] == me["accountId"]
