"""The REST API v3 subset: Connect JWT authentication and Jira's shapes and errors."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from atlassian_jwt.url_utils import hash_url

from tests.sandbox.conftest import APP_KEY, app_call, app_token, control, wait_idle

RICH_DESCRIPTION = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "Press "},
                {"type": "text", "text": "print", "marks": [{"type": "strong"}]},
                {"type": "hardBreak"},
                {
                    "type": "text",
                    "text": "docs",
                    "marks": [{"type": "link", "attrs": {"href": "https://example.com"}}],
                },
            ],
        },
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}
                    ],
                }
            ],
        },
        {
            "type": "codeBlock",
            "attrs": {"language": "python"},
            "content": [{"type": "text", "text": "x = 1"}],
        },
    ],
}
NEW_ISSUE = {"project": {"key": "ALP"}, "issuetype": {"name": "Task"}, "summary": "From the app"}


def test_valid_token_is_accepted(installed):
    sandbox, _ = installed
    response = app_call(sandbox, "GET", "/rest/api/3/myself")
    assert response.status_code == 200
    me = response.json()
    inst = sandbox.state.installation("alpha", APP_KEY)
    assert me["accountId"] == inst.app_account_id
    assert me["accountType"] == "app"


def test_query_string_is_part_of_the_qsh(installed):
    sandbox, _ = installed
    created = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": NEW_ISSUE}).json()
    url = f"/rest/api/3/issue/{created['key']}?fields=summary,labels&expand=names"
    response = app_call(sandbox, "GET", url)
    assert response.status_code == 200
    assert set(response.json()["fields"]) == {"summary", "labels"}

    secret = sandbox.shared_secret("alpha", APP_KEY)
    without_query = app_token(secret, "GET", f"/rest/api/3/issue/{created['key']}")
    assert app_call(sandbox, "GET", url, token=without_query).status_code == 401


@pytest.mark.parametrize(
    "case", ["wrong_qsh", "wrong_method", "wrong_secret", "expired", "unknown_issuer", "no_qsh"]
)
def test_bad_tokens_are_rejected(installed, case):
    sandbox, _ = installed
    secret = sandbox.shared_secret("alpha", APP_KEY)
    path = "/rest/api/3/myself"
    now = int(time.time())
    claims = {"iss": APP_KEY, "iat": now, "exp": now + 60, "qsh": hash_url("GET", path)}
    if case == "wrong_qsh":
        claims["qsh"] = hash_url("GET", "/rest/api/3/serverInfo")
    elif case == "wrong_method":
        claims["qsh"] = hash_url("POST", path)
    elif case == "wrong_secret":
        secret = "not-the-secret-" + secret
    elif case == "expired":
        claims.update(iat=now - 600, exp=now - 300)
    elif case == "unknown_issuer":
        claims["iss"] = "com.example.other"
    else:
        del claims["qsh"]
    token = jwt.encode(claims, secret, algorithm="HS256")
    response = app_call(sandbox, "GET", path, token=token)
    assert response.status_code == 401
    assert response.json()["errorMessages"]


def test_missing_or_other_auth_is_rejected(installed):
    sandbox, _ = installed
    url = sandbox.site_url("alpha") + "/rest/api/3/myself"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer x"}, timeout=5).status_code == 401


def test_token_for_another_site_is_rejected(installed):
    sandbox, _ = installed
    token = app_token(sandbox.shared_secret("alpha", APP_KEY), "GET", "/rest/api/3/myself")
    response = app_call(sandbox, "GET", "/rest/api/3/myself", site="beta", token=token)
    assert response.status_code == 401


def test_disabled_app_cannot_call(installed):
    sandbox, _ = installed
    control(sandbox, "POST", "/disable", site="alpha", app_key=APP_KEY)
    token = app_token(sandbox.shared_secret("alpha", APP_KEY), "GET", "/rest/api/3/myself")
    assert app_call(sandbox, "GET", "/rest/api/3/myself", token=token).status_code == 401


def test_create_and_get_issue_shapes(installed):
    sandbox, _ = installed
    fields = {**NEW_ISSUE, "description": RICH_DESCRIPTION, "labels": ["x", "a"]}
    response = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": fields})
    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "key", "self"}
    assert created["key"] == "ALP-1"
    assert created["self"] == f"{sandbox.site_url('alpha')}/rest/api/3/issue/{created['id']}"

    issue = app_call(sandbox, "GET", f"/rest/api/3/issue/{created['key']}").json()
    assert issue["id"] == created["id"] and issue["key"] == "ALP-1"
    f = issue["fields"]
    assert f["description"] == RICH_DESCRIPTION  # ADF round-trip
    assert f["summary"] == "From the app"
    assert f["project"]["key"] == "ALP" and f["project"]["id"] == "10000"
    assert f["issuetype"] == {**f["issuetype"], "id": "10001", "name": "Task"}
    assert f["status"]["name"] == "To Do"
    assert f["status"]["statusCategory"]["key"] == "new"
    assert f["priority"]["name"] == "Medium"
    assert f["labels"] == ["a", "x"]
    assert f["assignee"] is None
    assert f["reporter"]["accountType"] == "app"
    assert f["created"].endswith("+0000") and f["updated"]
    by_id = app_call(sandbox, "GET", f"/rest/api/3/issue/{created['id']}").json()
    assert by_id["key"] == "ALP-1"


def test_edit_with_fields_and_update_operations(installed):
    sandbox, fake_app = installed
    key = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": NEW_ISSUE}).json()["key"]
    control(sandbox, "PUT", f"/sites/alpha/issues/{key}", labels=["keep", "drop"])
    wait_idle(sandbox)
    body = {
        "fields": {"summary": "Renamed", "priority": {"name": "Low"}},
        "update": {"labels": [{"add": "tandem-synced"}, {"remove": "drop"}]},
    }
    response = app_call(sandbox, "PUT", f"/rest/api/3/issue/{key}", json=body)
    assert response.status_code == 204
    issue = control(sandbox, "GET", f"/sites/alpha/issues/{key}")
    assert issue["fields"]["labels"] == ["keep", "tandem-synced"]
    assert issue["fields"]["summary"] == "Renamed"
    assert issue["fields"]["priority"]["name"] == "Low"

    wait_idle(sandbox)
    last = fake_app.calls("/webhooks/jira")[-1].body
    assert last["user"]["accountType"] == "app"
    fields = {item["field"] for item in last["changelog"]["items"]}
    assert fields == {"summary", "priority", "labels"}


def test_jira_style_errors(installed):
    sandbox, _ = installed
    missing = app_call(sandbox, "GET", "/rest/api/3/issue/ALP-999")
    assert missing.status_code == 404
    assert missing.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }
    bad = app_call(
        sandbox,
        "POST",
        "/rest/api/3/issue",
        json={"fields": {"project": {"key": "NOPE"}, "description": "plain text"}},
    )
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert errors["project"] == "Specify a valid project ID or key"
    assert errors["summary"] == "You must specify a summary of the issue."
    assert errors["issuetype"] == "Specify an issue type"
    assert "Atlassian Document" in errors["description"]

    key = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": NEW_ISSUE}).json()["key"]
    status = app_call(
        sandbox, "PUT", f"/rest/api/3/issue/{key}", json={"fields": {"status": {"name": "Done"}}}
    )
    assert status.status_code == 400
    assert "cannot be set" in status.json()["errors"]["status"]
    label = app_call(
        sandbox, "PUT", f"/rest/api/3/issue/{key}", json={"update": {"labels": [{"add": "a b"}]}}
    )
    assert label.status_code == 400
    assert "contains spaces" in label.json()["errors"]["labels"]


def test_transitions_comments_and_properties(installed):
    sandbox, _ = installed
    key = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": NEW_ISSUE}).json()["key"]
    transitions = app_call(sandbox, "GET", f"/rest/api/3/issue/{key}/transitions").json()
    names = {t["name"]: t["id"] for t in transitions["transitions"]}
    assert set(names) == {"In Progress", "Done"}
    done = {"transition": {"id": names["Done"]}}
    assert (
        app_call(sandbox, "POST", f"/rest/api/3/issue/{key}/transitions", json=done).status_code
        == 204
    )
    assert (
        control(sandbox, "GET", f"/sites/alpha/issues/{key}")["fields"]["status"]["name"] == "Done"
    )
    again = app_call(sandbox, "POST", f"/rest/api/3/issue/{key}/transitions", json=done)
    assert again.status_code == 400

    body = {"body": RICH_DESCRIPTION}
    comment = app_call(sandbox, "POST", f"/rest/api/3/issue/{key}/comment", json=body)
    assert comment.status_code == 201
    assert comment.json()["body"] == RICH_DESCRIPTION
    page = app_call(sandbox, "GET", f"/rest/api/3/issue/{key}/comment").json()
    assert page["total"] == 1 and page["comments"][0]["id"] == comment.json()["id"]

    prop = f"/rest/api/3/issue/{key}/properties/tandem.link"
    assert app_call(sandbox, "PUT", prop, json={"peer": "BET-1"}).status_code == 201
    assert app_call(sandbox, "PUT", prop, json={"peer": "BET-2"}).status_code == 200
    assert app_call(sandbox, "GET", prop).json() == {
        "key": "tandem.link",
        "value": {"peer": "BET-2"},
    }
    assert app_call(sandbox, "DELETE", prop).status_code == 204
    assert app_call(sandbox, "GET", prop).status_code == 404

    encoded = f"/rest/api/3/issue/{key}/properties/tandem%20link"  # qsh over the raw path
    assert app_call(sandbox, "PUT", encoded, json=[1]).status_code == 201
    assert app_call(sandbox, "GET", encoded).json() == {"key": "tandem link", "value": [1]}


def test_attachments_upload_and_download(installed):
    sandbox, _ = installed
    key = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": NEW_ISSUE}).json()["key"]
    url = f"/rest/api/3/issue/{key}/attachments"
    files = {"file": ("notes.txt", b"hello", "text/plain")}
    assert app_call(sandbox, "POST", url, files=files).status_code == 403  # XSRF header needed
    uploaded = app_call(
        sandbox, "POST", url, files=files, headers={"X-Atlassian-Token": "no-check"}
    )
    assert uploaded.status_code == 200
    (meta,) = uploaded.json()
    assert meta["filename"] == "notes.txt" and meta["size"] == 5
    content = app_call(sandbox, "GET", f"/rest/api/3/attachment/content/{meta['id']}")
    assert content.content == b"hello"


def test_the_control_plane_reads_many_issues_in_one_request(sandbox):
    made = [
        control(sandbox, "POST", "/sites/alpha/issues", expect=201, project="ALP", summary=f"n{n}")
        for n in range(3)
    ]
    wanted = [made[2]["key"], "ALP-99999", made[0]["key"]]
    response = requests.get(
        f"{sandbox.url}/sandbox/sites/alpha/issues", params={"keys": ",".join(wanted)}, timeout=10
    )
    assert response.status_code == 200
    found = {issue["key"]: issue["fields"]["summary"] for issue in response.json()}
    assert found == {made[2]["key"]: "n2", made[0]["key"]: "n0"}, "unknown keys left out"
    everything = control(sandbox, "GET", "/sites/alpha/issues")
    assert {i["key"] for i in made} <= {issue["key"] for issue in everything}
