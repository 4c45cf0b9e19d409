"""The sandbox's personal-data reporting API: Connect (JWT + qsh on the site URL) and OAuth
(Bearer at the gateway root, scope report:personal-data), the 90-account limit, 200/204,
Cycle-Period, 429 with Retry-After, and the control plane that closes or changes accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from tests.sandbox.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    app_call,
    app_token,
    control,
)

PATH = "/app/report-accounts/"
ENDPOINT = "POST /app/report-accounts/"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _body(*accounts: str, at: datetime | None = None) -> dict:
    moment = _stamp(at or datetime.now(UTC))
    return {"accounts": [{"accountId": a, "updatedAt": moment} for a in accounts]}


def _people(sandbox, site: str = "alpha") -> list[str]:
    return control(sandbox, "GET", f"/sites/{site}")["humans"]


def test_connect_report_answers_204_then_200_for_closed_and_updated_accounts(installed):
    sandbox, _ = installed
    ada, grace, margaret = _people(sandbox)[:3]
    quiet = app_call(sandbox, "POST", PATH, json=_body(ada, grace, margaret))
    assert quiet.status_code == 204 and quiet.headers["Cycle-Period"] == "7"

    before_change = datetime.now(UTC) - timedelta(seconds=1)
    sandbox.close_account(ada)
    sandbox.update_account(grace, displayName="Grace B. Hopper")
    answer = app_call(sandbox, "POST", PATH, json=_body(ada, grace, margaret, at=before_change))
    assert answer.status_code == 200
    assert answer.json() == {
        "accounts": [
            {"accountId": ada, "status": "closed"},
            {"accountId": grace, "status": "updated"},
        ]
    }
    # Reported after the change, Grace needs nothing; a closed account stays closed.
    later = app_call(sandbox, "POST", PATH, json=_body(ada, grace))
    assert later.json() == {"accounts": [{"accountId": ada, "status": "closed"}]}
    user = app_call(sandbox, "GET", f"/rest/api/3/user?accountId={ada}").json()
    assert (user["displayName"], user["active"], "emailAddress" in user) == (
        "Former user",
        False,
        False,
    )
    counted = sandbox.counters("com.example.tandem-test")["by_endpoint"][ENDPOINT]
    assert counted["calls"] == 3 and counted["statuses"] == {"204": 1, "200": 2}
    log = sandbox.personal_data()["reports"]
    assert [r["status"] for r in log] == [204, 200, 200] and log[0]["kind"] == "connect"
    assert [a["accountId"] for a in log[0]["body"]["accounts"]] == [ada, grace, margaret]
    assert log[1]["answer"] == answer.json()["accounts"]


def test_connect_report_needs_a_valid_jwt_with_the_paths_qsh(installed):
    sandbox, _ = installed
    secret = sandbox.shared_secret("alpha", "com.example.tandem-test")
    wrong_qsh = app_token(secret, "POST", "/rest/api/3/myself")
    assert app_call(sandbox, "POST", PATH, token=wrong_qsh, json=_body("x")).status_code == 401
    url = sandbox.site_url("alpha") + PATH
    assert requests.post(url, json=_body("x"), timeout=5).status_code == 401


def test_more_than_90_accounts_or_a_bad_body_is_400(installed):
    sandbox, _ = installed
    too_many = app_call(sandbox, "POST", PATH, json=_body(*[f"acc-{n}" for n in range(91)]))
    assert too_many.status_code == 400 and "90" in too_many.json()["errorMessages"][0]
    assert app_call(sandbox, "POST", PATH, json=_body(*[f"a{n}" for n in range(90)])).ok
    for bad in ({"accounts": []}, {"accounts": [{"accountId": "a"}]}, {"nope": 1}):
        assert app_call(sandbox, "POST", PATH, json=bad).status_code == 400, bad
    bad_time = {"accounts": [{"accountId": "a", "updatedAt": "2018-10-25T23:08:51"}]}
    assert app_call(sandbox, "POST", PATH, json=bad_time).status_code == 400


def test_throttled_reports_get_429_with_retry_after_and_cycle_period_is_settable(installed):
    sandbox, _ = installed
    sandbox.set_personal_data(rate_limit_next=1, retry_after_s=2, cycle_period_days=3)
    first = app_call(sandbox, "POST", PATH, json=_body("a"))
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    early = app_call(sandbox, "POST", PATH, json=_body("a"))
    assert early.status_code == 204 and early.headers["Cycle-Period"] == "3"
    violations = sandbox.counters("com.example.tandem-test")["violations"]
    assert [v["endpoint"] for v in violations] == [ENDPOINT]  # it did not wait
    assert control(sandbox, "PUT", "/personal-data", expect=400, rate_limit_next=-1)


def test_oauth_report_at_the_gateway_root_needs_the_scope(oauth_client):
    sandbox = oauth_client
    without = oauth_client.connect_oauth(
        CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ["read:jira-work"], sites=("beta",)
    )
    url = f"{sandbox.url}{PATH}"

    def report(token: str, body: dict) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.post(url, json=body, headers=headers, timeout=5)

    katherine = _people(sandbox, "beta")[4]
    refused = report(without["access_token"], _body(katherine))
    assert refused.status_code == 401
    assert refused.json()["message"] == "Unauthorized; scope does not match"
    granted = oauth_client.connect_oauth(
        CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ["read:jira-work", "report:personal-data"]
    )
    at = datetime.now(UTC) - timedelta(seconds=1)
    sandbox.close_account(katherine)
    answer = report(granted["access_token"], _body(katherine, at=at))
    assert answer.status_code == 200
    assert answer.json()["accounts"] == [{"accountId": katherine, "status": "closed"}]
    assert report("not-a-token", _body(katherine)).status_code == 401
    assert sandbox.personal_data()["reports"][-1]["kind"] == "oauth"


def test_closing_or_changing_an_unknown_account_is_404(sandbox):
    control(sandbox, "POST", "/accounts/557058:nobody/close", expect=404)
    control(sandbox, "POST", "/accounts/557058:nobody/update", expect=404, displayName="X")
    ada = _people(sandbox)[0]
    control(sandbox, "POST", f"/accounts/{ada}/update", expect=400)
