"""Fault injection (latency, 429 with Atlassian's headers, 5xx, timeouts; per app; seeded)
and the per-app counters: calls, points, and Retry-After violations."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.sandbox.conftest import (
    APP_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    app_call,
    control,
    oauth_call,
)

MYSELF = "/rest/api/3/myself"


def test_429_carries_rate_limit_headers_and_early_retries_are_violations(installed):
    sandbox, _ = installed
    sandbox.set_faults(rate_429=1.0, retry_after_s=1)
    limited = app_call(sandbox, "GET", MYSELF)
    assert limited.status_code == 429
    assert limited.json() == {"errorMessages": ["Rate limit exceeded."], "errors": {}}
    headers = limited.headers
    assert headers["Retry-After"] == "1"
    assert headers["X-RateLimit-Remaining"] == "0" and int(headers["X-RateLimit-Limit"]) > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", headers["X-RateLimit-Reset"])
    assert headers["RateLimit-Reason"] == "jira-burst-based"
    assert headers["X-RateLimit-NearLimit"] == "true"

    sandbox.clear_faults()
    early = app_call(sandbox, "GET", MYSELF)  # not waiting for Retry-After
    assert early.status_code == 200  # faults are off, but the violation is on record
    counters = sandbox.counters(APP_KEY)
    (violation,) = counters["violations"]
    assert violation["endpoint"] == f"GET {MYSELF}" and violation["early_by_s"] > 0
    assert counters["last_429_until"] == violation["retry_after_until"]
    assert counters["by_endpoint"][f"GET {MYSELF}"]["statuses"] == {"429": 1, "200": 1}
    assert counters["points"] == 2  # the injected 429 cost nothing

    time.sleep(1.05)
    assert app_call(sandbox, "GET", MYSELF).status_code == 200
    assert len(sandbox.counters(APP_KEY)["violations"]) == 1  # waiting was compliant


def test_retrying_before_retry_after_gets_429_again(installed):
    sandbox, _ = installed
    sandbox.set_faults(rate_429=1.0, retry_after_s=1)
    assert app_call(sandbox, "GET", MYSELF).status_code == 429
    sandbox.set_faults(rate_429=0.0)  # faults stay active: Retry-After is enforced
    again = app_call(sandbox, "GET", MYSELF)
    assert again.status_code == 429 and again.headers["Retry-After"] == "1"
    assert len(sandbox.counters(APP_KEY)["violations"]) == 1


def test_faults_can_target_one_app_and_spare_the_control_plane(installed, oauth_client):
    sandbox, _ = installed
    tokens = sandbox.connect_oauth(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
    sandbox.set_faults(rate_5xx=1.0, retry_after_s=2, app=CLIENT_ID)
    assert app_call(sandbox, "GET", MYSELF).status_code == 200  # the Connect app is spared
    failed = oauth_call(sandbox, "GET", MYSELF, tokens["access_token"])
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert control(sandbox, "GET", "/sites/beta")["name"] == "beta"
    assert sandbox.counters(CLIENT_ID)["last_429_until"] is not None  # 503 + Retry-After
    sandbox.set_faults(rate_5xx=1.0, status_5xx=500, app=CLIENT_ID, enforce_retry_after=False)
    plain = oauth_call(sandbox, "GET", MYSELF, tokens["access_token"])
    assert plain.status_code == 500 and "Retry-After" not in plain.headers
    assert sandbox.control("GET", "/faults")["app"] == CLIENT_ID


def test_latency_and_seeded_reproducibility(installed):
    sandbox, _ = installed
    sandbox.set_faults(latency_ms=120, latency_jitter_ms=10)
    started = time.monotonic()
    assert app_call(sandbox, "GET", MYSELF).status_code == 200
    assert time.monotonic() - started >= 0.1

    def pattern() -> list[int]:
        sandbox.set_faults(rate_429=0.5, seed=7, enforce_retry_after=False)
        return [app_call(sandbox, "GET", MYSELF).status_code for _ in range(12)]

    first = pattern()
    assert set(first) == {200, 429}
    assert pattern() == first


def test_timeouts(installed):
    sandbox, _ = installed
    sandbox.set_faults(rate_timeout=1.0, timeout_s=0.5)
    with pytest.raises(requests.Timeout):
        app_call(sandbox, "GET", MYSELF, timeout=0.2)
    started = time.monotonic()
    response = app_call(sandbox, "GET", MYSELF)
    assert response.status_code == 504 and time.monotonic() - started >= 0.5
    sandbox.clear_faults()
    assert sandbox.control("GET", "/faults") == {"active": False}


@pytest.mark.parametrize(
    "settings",
    [
        {"rate_429": 0.7, "rate_5xx": 0.7},
        {"latency_ms": -1},
        {"colour": 1},
        {"status_5xx": 404},
        {"seed": [1]},
        {"latency_ms": "30"},
    ],
)
def test_invalid_fault_settings(sandbox, settings):
    response = requests.put(f"{sandbox.url}/sandbox/faults", json=settings, timeout=5)
    assert response.status_code == 400
    assert response.json()["errorMessages"][0].startswith("Invalid faults")


def test_points_per_app_and_endpoint(installed):
    sandbox, _ = installed
    for n in range(3):
        control(sandbox, "POST", "/sites/alpha/issues", 201, summary=f"Issue {n}")
    sandbox.reset_counters()
    page = app_call(sandbox, "GET", "/rest/api/3/search/jql?jql=project%3DALP&fields=key")
    assert len(page.json()["issues"]) == 3
    fields = {"project": {"key": "ALP"}, "issuetype": {"name": "Task"}, "summary": "New"}
    app_call(sandbox, "POST", "/rest/api/3/issue", json={"fields": fields})
    app_call(sandbox, "GET", "/rest/api/3/issue/ALP-1")
    app_call(sandbox, "GET", "/rest/api/3/issue/ALP-404")
    counters = sandbox.counters(APP_KEY)
    assert counters["calls"] == 4
    by_endpoint = counters["by_endpoint"]
    assert by_endpoint["GET /rest/api/3/search/jql"]["points"] == 4  # 1 + 3 issues
    assert by_endpoint["POST /rest/api/3/issue"]["points"] == 1  # writes: base cost only
    issue = by_endpoint["GET /rest/api/3/issue/{issueIdOrKey}"]
    assert issue == {"calls": 2, "points": 3, "statuses": {"200": 1, "404": 1}}
    totals = sandbox.counters()
    assert totals["calls"] == 4 and set(totals["apps"]) == {APP_KEY}
    sandbox.reset_counters()
    assert sandbox.counters()["calls"] == 0
