"""Dynamic webhooks registered over REST: JQL-filtered delivery to OAuth apps signed with
the client secret (Bearer JWT), Jira's identifier and retry headers, the app's own changes
attributed to its account, list/refresh/delete, expiry, revocation and field filters."""

from __future__ import annotations

import time

import jwt

from sandbox.testing import running_sandbox
from tests.sandbox.conftest import (
    ALL_SCOPES,
    APP_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    app_call,
    bearer,
    control,
    oauth_call,
    wait_idle,
)

HOOK = "/oauth/webhooks"


def _register(sandbox, token: str, url: str, *webhooks: dict) -> list[dict]:
    body = {"url": url, "webhooks": list(webhooks)}
    response = oauth_call(sandbox, "POST", "/rest/api/3/webhook", token, json=body)
    assert response.status_code == 200, response.text
    return response.json()["webhookRegistrationResult"]


def _claims(call) -> dict:
    header = call.headers["Authorization"]
    assert header.startswith("Bearer ")
    token = header[7:]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    return jwt.decode(
        token,
        CLIENT_SECRET,
        algorithms=["HS256"],
        audience=CLIENT_ID,
        options={"require": ["iss", "iat", "exp", "sub"]},
    )


def test_registration_and_signed_delivery(connected, fake_app):
    sandbox, tokens = connected
    token = tokens["access_token"]
    url = fake_app.base_url + HOOK
    results = _register(
        sandbox,
        token,
        url,
        {"events": ["jira:issue_created", "jira:issue_updated"], "jqlFilter": "project = BET"},
        {"events": ["comment_created"], "jqlFilter": "project = BETR"},
        {"events": ["attachment_created"], "jqlFilter": "project = BET"},
        {"events": ["jira:issue_created"], "jqlFilter": "project = NOPE"},
    )
    first, second = results[0]["createdWebhookId"], results[1]["createdWebhookId"]
    assert "events not supported" in results[2]["errors"][0].lower()
    assert "NOPE" in results[3]["errors"][0]

    ada = control(sandbox, "GET", "/sites/beta")["humans"][0]
    control(sandbox, "POST", "/sites/beta/issues", 201, summary="Matches")
    control(sandbox, "POST", "/sites/beta/issues", 201, summary="Other project", project="BETR")
    control(sandbox, "POST", "/sites/alpha/issues", 201, summary="Other site")
    (call,) = fake_app.wait_for(HOOK, 1)
    wait_idle(sandbox)
    assert len(fake_app.calls(HOOK)) == 1
    claims = _claims(call)
    assert claims["iss"] == f"jira:{sandbox.cloud_id('beta')}"
    assert claims["exp"] - claims["iat"] == 180
    assert call.headers["X-Atlassian-Webhook-Identifier"]
    assert call.headers["X-Atlassian-Webhook-Flow"] == "Primary"
    assert "X-Atlassian-Webhook-Retry" not in call.headers
    body = call.body
    assert body["webhookEvent"] == "jira:issue_created" and body["matchedWebhookIds"] == [first]
    assert body["issue"]["key"] == "BET-1" and body["user"]["accountId"] == ada

    # the app's own change comes back attributed to the account it acts as
    me = oauth_call(sandbox, "GET", "/rest/api/3/myself", token).json()["accountId"]
    assert claims["sub"] == me
    edit = {"fields": {"summary": "Edited by the app"}}
    assert (
        oauth_call(sandbox, "PUT", "/rest/api/3/issue/BET-1", token, json=edit).status_code == 204
    )
    echo = fake_app.wait_for(HOOK, 2)[-1].body
    assert echo["webhookEvent"] == "jira:issue_updated"
    assert echo["user"]["accountId"] == me != ada

    listed = oauth_call(sandbox, "GET", "/rest/api/3/webhook", token).json()
    assert [w["id"] for w in listed["values"]] == [first, second] and listed["total"] == 2
    thirty_days = 30 * 86400 * 1000
    assert abs(listed["values"][0]["expirationDate"] - time.time() * 1000 - thirty_days) < 60000
    refreshed = oauth_call(
        sandbox, "PUT", "/rest/api/3/webhook/refresh", token, json={"webhookIds": [first]}
    )
    assert refreshed.status_code == 200 and refreshed.json()["expirationDate"] > time.time() * 1000
    deleted = oauth_call(
        sandbox, "DELETE", "/rest/api/3/webhook", token, json={"webhookIds": [first]}
    )
    assert deleted.status_code == 202
    listed = oauth_call(sandbox, "GET", "/rest/api/3/webhook", token).json()
    assert [w["id"] for w in listed["values"]] == [second]
    assert [h["id"] for h in sandbox.control("GET", "/dynamic-webhooks")] == [second]


def test_retries_keep_the_identifier(connected, fake_app):
    sandbox, tokens = connected
    fake_app.answer(HOOK, 503, 500)
    _register(
        sandbox,
        tokens["access_token"],
        fake_app.base_url + HOOK,
        {"events": ["jira:issue_created"], "jqlFilter": "project = BET"},
    )
    control(sandbox, "POST", "/sites/beta/issues", 201, summary="Retry me")
    calls = fake_app.wait_for(HOOK, 3)
    wait_idle(sandbox)
    assert len({c.headers["X-Atlassian-Webhook-Identifier"] for c in calls}) == 1
    assert [c.headers.get("X-Atlassian-Webhook-Retry") for c in calls] == [None, "1", "2"]
    for call in calls:
        _claims(call)
    (delivery,) = control(sandbox, "GET", f"/deliveries?app_key={CLIENT_ID}")
    assert delivery["kind"] == "oauth" and delivery["state"] == "delivered"


def test_revoked_grant_stops_delivery(connected, fake_app):
    sandbox, tokens = connected
    _register(
        sandbox,
        tokens["access_token"],
        fake_app.base_url + HOOK,
        {"events": ["jira:issue_created"], "jqlFilter": "project = BET"},
    )
    (grant,) = sandbox.grants()
    sandbox.revoke_grant(grant["grant_id"])
    control(sandbox, "POST", "/sites/beta/issues", 201, summary="Nobody hears this")
    wait_idle(sandbox)
    assert fake_app.calls(HOOK) == []
    (delivery,) = control(sandbox, "GET", "/deliveries?state=failed")
    assert "revoked" in delivery["attempts"][0]["error"]


def test_field_filter_and_webhook_scope(connected, fake_app):
    sandbox, tokens = connected
    _register(
        sandbox,
        tokens["access_token"],
        fake_app.base_url + HOOK,
        {
            "events": ["jira:issue_updated"],
            "jqlFilter": "project = BET AND labels = synced",
            "fieldIdsFilter": ["summary"],
        },
    )
    control(sandbox, "POST", "/sites/beta/issues", 201, summary="One", labels=["synced"])
    control(sandbox, "PUT", "/sites/beta/issues/BET-1", priority="High")
    control(sandbox, "PUT", "/sites/beta/issues/BET-1", summary="Renamed")
    control(sandbox, "POST", "/sites/beta/issues", 201, summary="Unlabelled")
    control(sandbox, "PUT", "/sites/beta/issues/BET-2", summary="Renamed too")
    (call,) = fake_app.wait_for(HOOK, 1)
    wait_idle(sandbox)
    assert len(fake_app.calls(HOOK)) == 1
    assert call.body["changelog"]["items"][0]["field"] == "summary"

    read_only = sandbox.connect_oauth(
        CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ["read:jira-work"], sites=("beta",)
    )
    denied = oauth_call(sandbox, "GET", "/rest/api/3/webhook", read_only["access_token"])
    assert denied.status_code == 401


def test_webhooks_expire(fake_app):
    with running_sandbox(webhook_lifetime=0.5) as sandbox:
        sandbox.register_oauth_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
        tokens = sandbox.connect_oauth(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ALL_SCOPES)
        _register(
            sandbox,
            tokens["access_token"],
            fake_app.base_url + HOOK,
            {"events": ["jira:issue_created"], "jqlFilter": "project = BET"},
        )
        time.sleep(0.6)
        control(sandbox, "POST", "/sites/beta/issues", 201, summary="Too late")
        wait_idle(sandbox)
        assert fake_app.calls(HOOK) == []
        listed = oauth_call(sandbox, "GET", "/rest/api/3/webhook", tokens["access_token"])
        assert listed.json()["values"] == []


def test_connect_apps_can_register_dynamic_webhooks(installed):
    sandbox, fake_app = installed
    body = {
        "url": fake_app.base_url + "/dynamic",
        "webhooks": [{"events": ["comment_created"], "jqlFilter": "project = ALP"}],
    }
    registered = app_call(sandbox, "POST", "/rest/api/3/webhook", json=body).json()
    hook_id = registered["webhookRegistrationResult"][0]["createdWebhookId"]
    outside = {**body, "url": "https://elsewhere.example/hook"}
    refused = app_call(sandbox, "POST", "/rest/api/3/webhook", json=outside)
    assert refused.status_code == 400
    control(sandbox, "POST", "/sites/alpha/issues", 201, summary="Comment here")
    control(sandbox, "POST", "/sites/alpha/issues/ALP-1/comments", 201, body="Hello")
    (call,) = fake_app.wait_for("/dynamic", 1)
    assert call.body["matchedWebhookIds"] == [hook_id]
    inst = sandbox.state.installation("alpha", APP_KEY)
    claims = jwt.decode(bearer(call), inst.shared_secret, algorithms=["HS256"])
    assert claims["iss"] == inst.client_key
