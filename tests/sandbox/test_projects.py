"""Projects over REST as the admin pages' pickers read them: the site's projects paged
like Jira's `/project/search`, and a project's statuses per issue type, following the
workflow the project uses (switched at run time, the list follows)."""

from __future__ import annotations

from tests.sandbox.conftest import app_call, control


def test_projects_are_listed_by_key_and_paged(installed):
    sandbox, _ = installed
    everything = app_call(sandbox, "GET", "/rest/api/3/project/search").json()
    assert [p["key"] for p in everything["values"]] == ["ALP", "ALPR"]
    assert (everything["total"], everything["isLast"]) == (2, True)
    first = app_call(sandbox, "GET", "/rest/api/3/project/search?maxResults=1").json()
    assert [p["key"] for p in first["values"]] == ["ALP"] and not first["isLast"]
    rest = app_call(sandbox, "GET", "/rest/api/3/project/search?startAt=1&maxResults=1").json()
    assert [p["key"] for p in rest["values"]] == ["ALPR"] and rest["isLast"]
    bad = app_call(sandbox, "GET", "/rest/api/3/project/search?startAt=x")
    assert bad.status_code == 400


def test_a_projects_statuses_follow_its_workflow(installed):
    sandbox, _ = installed

    def names(key: str) -> list[list[str]]:
        answer = app_call(sandbox, "GET", f"/rest/api/3/project/{key}/statuses")
        assert answer.status_code == 200, answer.text
        return [[s["name"] for s in entry["statuses"]] for entry in answer.json()]

    assert names("ALP") == [["To Do", "In Progress", "Done"]] * 2  # Task and Bug
    assert names("ALPR")[0] == ["To Do", "In Progress", "In Review", "Done"]
    control(sandbox, "PUT", "/sites/alpha/projects/ALP/workflow", workflow="review")
    assert "In Review" in names("ALP")[0]
    missing = app_call(sandbox, "GET", "/rest/api/3/project/NOPE/statuses")
    assert missing.status_code == 404
