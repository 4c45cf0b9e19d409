"""Scope enforcement on every REST endpoint, for Connect apps (descriptor scopes, with
Connect's READ < WRITE < DELETE ladder) and OAuth apps (consented classic scopes)."""

from __future__ import annotations

import requests

from sandbox import scopes
from tests.sandbox.conftest import (
    APP_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    app_call,
    control,
    oauth_call,
)

NEW_ISSUE = {"project": {"key": "ALP"}, "issuetype": {"name": "Task"}, "summary": "Scoped"}


def test_every_rest_route_has_a_rule_and_the_registry_is_served(sandbox):
    routes = [r for r in sandbox.app.url_map.iter_rules() if r.endpoint.startswith("sandbox_rest")]
    assert routes
    missing = [r.endpoint for r in routes if scopes.rule_for(r.endpoint) is None]
    assert missing == []
    for rule in routes:
        found = scopes.rule_for(rule.endpoint)
        assert found.method in rule.methods, (rule.endpoint, found.method, rule.methods)
    served = requests.get(f"{sandbox.url}/sandbox/scopes", timeout=5).json()
    assert served == scopes.listing()
    by_name = {row["endpoint"]: row for row in served}
    assert by_name["delete_issue"]["connect"] == "DELETE"
    assert by_name["delete_issue"]["oauth"] == ["write:jira-work"]
    assert by_name["search_jql_get"]["oauth"] == ["read:jira-work"]
    assert by_name["myself"]["oauth"] == ["read:jira-user"]
    assert by_name["register_webhooks"]["oauth"] == ["read:jira-work", "manage:jira-webhook"]


def test_connect_app_without_delete_scope_cannot_delete(installed):
    sandbox, _ = installed  # descriptor scopes: READ, WRITE
    key = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": NEW_ISSUE}).json()["key"]
    comment = app_call(
        sandbox, "POST", f"/rest/api/3/issue/{key}/comment", json={"body": _adf("hi")}
    ).json()
    for path in (f"/rest/api/3/issue/{key}", f"/rest/api/3/issue/{key}/comment/{comment['id']}"):
        denied = app_call(sandbox, "DELETE", path)
        assert denied.status_code == 403
        body = denied.json()
        assert body["errors"] == {} and "'DELETE' scope is required" in body["errorMessages"][0]
    assert control(sandbox, "GET", f"/sites/alpha/issues/{key}")["key"] == key


def test_connect_scopes_follow_the_ladder(sandbox, fake_app):
    fake_app.extra_descriptor = {"scopes": ["read", "delete"]}  # DELETE implies WRITE
    control(sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url)
    key = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": NEW_ISSUE}).json()["key"]
    assert app_call(sandbox, "DELETE", f"/rest/api/3/issue/{key}").status_code == 204

    fake_app.extra_descriptor = {"scopes": ["READ"]}
    control(sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url)
    assert sandbox.state.installation("alpha", APP_KEY).scopes == ["READ"]
    assert app_call(sandbox, "GET", "/rest/api/3/myself").status_code == 200
    write = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": NEW_ISSUE})
    assert write.status_code == 403


def test_oauth_token_outside_its_scopes_is_refused(oauth_client):
    tokens = oauth_client.connect_oauth(
        CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ["read:jira-work"], sites=("beta",)
    )
    token = tokens["access_token"]
    assert oauth_call(oauth_client, "GET", "/rest/api/3/label", token).status_code == 200
    fields = {**NEW_ISSUE, "project": {"key": "BET"}}
    write = oauth_call(oauth_client, "POST", "/rest/api/3/issue", token, json={"fields": fields})
    assert write.status_code == 401
    assert write.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    users = oauth_call(oauth_client, "GET", "/rest/api/3/myself", token)
    assert users.status_code == 401  # read:jira-user was not granted
    hooks = oauth_call(oauth_client, "GET", "/rest/api/3/webhook", token)
    assert hooks.status_code == 401  # manage:jira-webhook was not granted
    assert oauth_client.control("GET", "/sites/beta/issues") == []


def _adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }
