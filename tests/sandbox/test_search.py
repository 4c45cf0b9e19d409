"""JQL search: `/search/jql` (GET and POST) with `nextPageToken` paging, the JQL subset a
sync needs, Jira's errors, and the older `/search` with `startAt`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from tests.sandbox.conftest import app_call, control, oauth_call


def _issues(sandbox, count: int, **fields) -> list[str]:
    keys = []
    for n in range(count):
        body = {"summary": f"Issue {n}", **fields}
        keys.append(control(sandbox, "POST", "/sites/alpha/issues", 201, **body)["key"])
    return keys


def _get(sandbox, jql: str, **params) -> dict:
    params.setdefault("fields", "key")
    query = "&".join([f"jql={quote(jql)}", *(f"{k}={quote(str(v))}" for k, v in params.items())])
    response = app_call(sandbox, "GET", f"/rest/api/3/search/jql?{query}")
    assert response.status_code == 200, response.text
    return response.json()


def _keys(page: dict) -> list[str]:
    return [issue["key"] for issue in page["issues"]]


def test_paging_with_next_page_token(installed):
    sandbox, _ = installed
    keys = _issues(sandbox, 7)
    jql = "project = ALP ORDER BY key ASC"
    seen, token, pages = [], None, 0
    while True:
        params = {"maxResults": 3, "fields": "summary,updated"}
        if token:
            params["nextPageToken"] = token
        page = _get(sandbox, jql, **params)
        pages += 1
        seen += _keys(page)
        assert set(page["issues"][0]["fields"]) == {"summary", "updated"}
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        token = page["nextPageToken"]
    assert pages == 3 and seen == keys

    bad = app_call(sandbox, "GET", f"/rest/api/3/search/jql?jql={quote(jql)}&nextPageToken=junk")
    assert bad.status_code == 400
    other_query = _get(sandbox, "project = ALP", maxResults=3)["nextPageToken"]
    mixed = app_call(
        sandbox, "GET", f"/rest/api/3/search/jql?jql={quote(jql)}&nextPageToken={other_query}"
    )
    assert mixed.status_code == 400


def test_post_search_and_default_fields(installed):
    sandbox, _ = installed
    keys = _issues(sandbox, 3)
    ids_only = app_call(
        sandbox, "POST", "/rest/api/3/search/jql", json={"jql": "project = ALP", "maxResults": 2}
    ).json()
    assert ids_only["issues"] == [{"id": i["id"]} for i in ids_only["issues"]]  # just ids
    assert len(ids_only["issues"]) == 2 and ids_only["isLast"] is False
    rest = app_call(
        sandbox,
        "POST",
        "/rest/api/3/search/jql",
        json={
            "jql": "project = ALP",
            "maxResults": 2,
            "fields": ["*all"],
            "nextPageToken": ids_only["nextPageToken"],
        },
    ).json()
    assert rest["isLast"] is True and _keys(rest) == [keys[0]]  # default order: key DESC
    assert rest["issues"][0]["fields"]["status"]["name"] == "To Do"


def test_sync_style_queries(installed):
    sandbox, _ = installed
    first, second, third = _issues(sandbox, 3)
    control(sandbox, "PUT", f"/sites/alpha/issues/{first}", labels=["tandem-synced"])
    control(sandbox, "PUT", f"/sites/alpha/issues/{second}", labels=["customer"])
    since = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M")

    by_update = _get(sandbox, f'project = ALP AND updated >= "{since}" ORDER BY updated ASC')
    assert _keys(by_update) == [third, first, second]
    assert _keys(_get(sandbox, "project in (ALP, ALPR) AND updated >= -5m ORDER BY key")) == [
        first,
        second,
        third,
    ]
    assert _keys(_get(sandbox, "project = ALP AND updated <= -5m")) == []
    assert _keys(_get(sandbox, f"key = {second}")) == [second]
    assert _keys(_get(sandbox, "labels = tandem-synced")) == [first]
    # as in Jira, != and NOT IN leave out issues without labels
    assert _keys(_get(sandbox, "project = ALP AND labels != tandem-synced")) == [second]
    assert _keys(_get(sandbox, "project = ALP AND labels not in (customer)")) == [first]
    unlabelled = "project = ALP AND (labels != tandem-synced OR labels is EMPTY) ORDER BY key"
    assert _keys(_get(sandbox, unlabelled)) == [second, third]


def test_jql_errors_have_jiras_shape(installed):
    sandbox, _ = installed
    _issues(sandbox, 1)
    cases = {
        "project = NOPE": "The value 'NOPE' does not exist for the field 'project'.",
        "colour = red": "Field 'colour' does not exist or you do not have permission to view it.",
        "key = ALP-99": "An issue with key 'ALP-99' does not exist for field 'key'.",
        "project = ALP AND": "Error in the JQL Query: Expecting a field name",
        "updated >= tomorrow": "Date value 'tomorrow' for field 'updated' is invalid.",
        "ORDER BY key": "Unbounded JQL queries are not allowed here.",
        "project = ALP ORDER BY labels": "Field 'labels' does not support sorting.",
        "assignee = currentUser()": "does not support the JQL function 'currentUser'",
    }
    for jql, message in cases.items():
        response = app_call(sandbox, "GET", f"/rest/api/3/search/jql?jql={quote(jql)}")
        assert response.status_code == 400, jql
        body = response.json()
        assert body["errors"] == {} and len(body["errorMessages"]) == 1
        assert message in body["errorMessages"][0], (jql, body)


def test_max_results_is_capped_and_counts(installed):
    sandbox, _ = installed
    _issues(sandbox, 2)
    page = _get(sandbox, "project = ALP", maxResults=5000)
    assert len(page["issues"]) == 2 and page["isLast"] is True
    count = app_call(
        sandbox, "POST", "/rest/api/3/search/approximate-count", json={"jql": "project = ALP"}
    )
    assert count.json() == {"count": 2}


def test_legacy_search_pages_with_start_at(installed):
    sandbox, _ = installed
    keys = _issues(sandbox, 5)
    url = f"/rest/api/3/search?jql={quote('project = ALP ORDER BY key ASC')}&startAt=2&maxResults=2"
    page = app_call(sandbox, "GET", url).json()
    assert (page["startAt"], page["maxResults"], page["total"]) == (2, 2, 5)
    assert _keys(page) == keys[2:4]
    assert "summary" in page["issues"][0]["fields"]  # all fields by default
    posted = app_call(
        sandbox,
        "POST",
        "/rest/api/3/search",
        json={"jql": "", "startAt": 4, "maxResults": 50, "fields": ["summary"]},
    ).json()
    assert posted["total"] == 5 and len(posted["issues"]) == 1  # unbounded is fine here
    assert set(posted["issues"][0]["fields"]) == {"summary"}


def test_oauth_app_searches_through_the_gateway(connected):
    sandbox, tokens = connected
    for n in range(3):
        control(sandbox, "POST", "/sites/beta/issues", 201, summary=f"Beta {n}")
    body = {"jql": "project = BET ORDER BY key", "maxResults": 2, "fields": ["summary"]}
    first = oauth_call(sandbox, "POST", "/rest/api/3/search/jql", tokens["access_token"], json=body)
    assert first.status_code == 200
    assert first.json()["issues"][0]["self"].startswith(sandbox.gateway_url("beta"))
    body["nextPageToken"] = first.json()["nextPageToken"]
    second = oauth_call(
        sandbox, "POST", "/rest/api/3/search/jql", tokens["access_token"], json=body
    )
    assert _keys(first.json()) + _keys(second.json()) == ["BET-1", "BET-2", "BET-3"]
