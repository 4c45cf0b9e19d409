"""Per-project workflows: the review project has no To Do -> Done transition, so a client
must walk To Do -> In Progress -> In Review -> Done; the simple project keeps global ones."""

from __future__ import annotations

from tests.sandbox.conftest import app_call, control, wait_idle

REVIEW_ISSUE = {"project": {"key": "ALPR"}, "issuetype": {"name": "Bug"}, "summary": "Review me"}


def _available(sandbox, key: str) -> dict[str, str]:
    response = app_call(sandbox, "GET", f"/rest/api/3/issue/{key}/transitions")
    assert response.status_code == 200
    return {t["to"]["name"]: t["id"] for t in response.json()["transitions"]}


def _move(sandbox, key: str, transition_id: str) -> int:
    body = {"transition": {"id": transition_id}}
    return app_call(sandbox, "POST", f"/rest/api/3/issue/{key}/transitions", json=body).status_code


def test_review_workflow_needs_several_steps(installed):
    sandbox, fake_app = installed
    created = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": REVIEW_ISSUE})
    key = created.json()["key"]
    assert key == "ALPR-1"
    assert _available(sandbox, key) == {"In Progress": "21"}
    assert _move(sandbox, key, "51") == 400  # Approve is not offered from To Do
    assert _move(sandbox, key, "31") == 400  # the simple workflow's "Done" is not here

    path = []
    for target in ("In Progress", "In Review", "Done"):
        transition_id = _available(sandbox, key)[target]
        assert _move(sandbox, key, transition_id) == 204
        path.append(transition_id)
    assert path == ["21", "41", "51"]
    assert _available(sandbox, key) == {"To Do": "71"}  # Reopen

    wait_idle(sandbox)
    changes = [
        (item["fromString"], item["toString"])
        for call in fake_app.calls("/webhooks/jira")
        for item in (call.body.get("changelog") or {}).get("items", [])
        if item["field"] == "status"
    ]
    assert changes == [
        ("To Do", "In Progress"),
        ("In Progress", "In Review"),
        ("In Review", "Done"),
    ]


def test_review_transitions_are_not_global(installed):
    sandbox, _ = installed
    key = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": REVIEW_ISSUE}).json()[
        "key"
    ]
    _move(sandbox, key, "21")
    transitions = app_call(sandbox, "GET", f"/rest/api/3/issue/{key}/transitions").json()
    assert {(t["name"], t["isGlobal"]) for t in transitions["transitions"]} == {
        ("Stop Progress", False),
        ("Submit for Review", False),
    }


def test_simple_project_still_has_global_transitions_and_workflows_can_switch(installed):
    sandbox, _ = installed
    site = control(sandbox, "GET", "/sites/alpha")
    assert site["workflows"] == {"ALP": "simple", "ALPR": "review"}
    assert [p["key"] for p in site["projects"]] == ["ALP", "ALPR"]
    simple = {"project": {"key": "ALP"}, "issuetype": {"name": "Task"}, "summary": "Simple"}
    key = app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": simple}).json()["key"]
    assert set(_available(sandbox, key)) == {"In Progress", "Done"}

    result = control(sandbox, "PUT", "/sites/alpha/projects/ALP/workflow", workflow="review")
    assert result == {"project": "ALP", "workflow": "review"}
    assert set(_available(sandbox, key)) == {"In Progress"}
    control(sandbox, "PUT", "/sites/alpha/projects/ALP/workflow", 400, workflow="kanban")
