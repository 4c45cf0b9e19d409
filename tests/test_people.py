"""Assignees across sites: same account on the same site, visible email across sites,
else the configured default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from jira.client import JiraClient
from jira.signing import ConnectCredentials
from runtime import Runtime
from sandbox.testing import running_sandbox
from sync.people import resolve_assignee
from tests.support.http_server import serving
from tests.test_jira_client import APP_KEY, _app_side


@pytest.fixture(scope="module")
def two_sites() -> Iterator[dict]:
    with serving(_app_side()) as app_url, running_sandbox(sites=("alpha", "beta")) as sandbox:
        sites = {}
        for name in ("alpha", "beta"):
            assert sandbox.install(name, f"{app_url}/atlassian-connect.json")["installed"]
            client = JiraClient(
                ConnectCredentials(
                    sandbox.site_url(name), APP_KEY, sandbox.shared_secret(name, APP_KEY)
                )
            )
            sites[name] = (sandbox.site_url(name), client)
        people = {
            site["name"]: {u["displayName"]: u["accountId"] for u in site["users"]}
            for site in requests.get(f"{sandbox.url}/sandbox/sites", timeout=10).json()
        }
        yield {"sites": sites, "people": people}


def test_people_are_matched_across_sites(runtime: Runtime, two_sites: dict) -> None:
    runtime.redis.delete(*runtime.redis.keys("tandem:people:*") or ["none"])
    alpha, beta = two_sites["sites"]["alpha"], two_sites["sites"]["beta"]
    people = two_sites["people"]

    def across(name: str, default: str | None = "fallback") -> str | None:
        return resolve_assignee(runtime, people["alpha"][name], alpha, beta, default)

    # Same email on both sites, visible to apps: found by email.
    assert across("Margaret Hamilton") == people["beta"]["Margaret Hamilton"]
    # Different emails, or an email apps can't see: the default.
    assert across("Ada Lovelace") == "fallback"
    assert across("Alan Turing") == "fallback"
    calls = alpha[1].meter.calls + beta[1].meter.calls
    assert across("Ada Lovelace", default=None) is None
    assert alpha[1].meter.calls + beta[1].meter.calls == calls, "answers are cached a day"
    # Same site: the same account, no lookup.
    same = resolve_assignee(runtime, "acc-1", alpha, alpha, "fallback")
    assert same == "acc-1"
    assert resolve_assignee(runtime, None, alpha, beta, "fallback") == "fallback"
