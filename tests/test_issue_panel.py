"""The issue panel over real HTTP: the sandbox's issue view frames it with a context JWT
the way Jira does; its JSON calls carry that token. Tandem is installed on the sandbox
site and mirrors ALP to ALPR one way (a status mapped to one ALPR lacks, for failures)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import jwt
import pytest
import requests
from sqlalchemy import select

from config import Settings
from jira.calls import CALLS
from models.accounts import Membership
from models.audit import AuditEvent
from models.links import IssueLink
from runtime import Runtime
from sandbox.tokens import context_token
from sync.error_words import CALL_WORDS, error_words
from sync.markers import LINK_PROPERTY, SYNC_LABEL
from tests.sync_world import World, sync_world

APP_KEY = "io.tandem.issue-panel"
MIRRORING = {
    "name": "ALP to ALPR",
    "direction": "one_way",
    "fields": ["summary", "status", "comments"],
    "mappings": {"status": {"Done": "Nowhere"}},
}
IFRAME = re.compile(r"<iframe [^>]*src='([^']+)'")


MEMBER, ADMIN, VIEWER = "person-member", "person-admin", "person-viewer"


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    with sync_world(settings, runtime, APP_KEY, MIRRORING) as built:
        with built.runtime.db.tenant_session(built.tenant_id) as session:
            for account, role in ((MEMBER, "member"), (ADMIN, "admin")):
                session.add(
                    Membership(tenant_id=built.tenant_id, atlassian_account_id=account, role=role)
                )
        yield built


def mirrored(world: World, summary: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A person creates an ALP issue; it and its mirror once Tandem synced it."""
    created = world.control("POST", "/issues", project="ALP", summary=summary)
    world.settle()
    return world.control("GET", f"/issues/{created['key']}"), world.mirror_of(created["key"])


def panel_page(world: World, key: str, viewer: str | None = None) -> requests.Response:
    """Open the issue in the sandbox's issue view and load the panel's iframe URL."""
    params = {"as": viewer} if viewer else None
    view = requests.get(
        f"{world.sandbox.site_url('alpha')}/browse/{key}", params=params, timeout=10
    )
    assert view.status_code == 200, view.text
    sources = IFRAME.findall(view.text)
    assert len(sources) == 1, view.text
    return requests.get(unescape(sources[0]), timeout=10)


def token_for(world: World, issue: dict[str, Any] | None, sub: str | None = ADMIN) -> str:
    """A context JWT as Jira signs it for ``issue`` (None: a token naming no issue)."""
    installation = world.sandbox.state.installation("alpha", APP_KEY)
    assert installation is not None
    context = {}
    if issue is not None:
        project = issue["fields"]["project"]
        context = {
            "jira": {
                "issue": {"id": issue["id"], "key": issue["key"]},
                "project": {"id": project["id"], "key": project["key"]},
            }
        }
    token = context_token(installation.shared_secret, installation.client_key, sub or "", context)
    if sub is None:  # the same token without a user (an anonymous viewer)
        claims = jwt.decode(token, options={"verify_signature": False})
        del claims["sub"]
        token = jwt.encode(claims, installation.shared_secret, algorithm="HS256")
    return token


def call(world: World, method: str, path: str, token: str, **params: str) -> requests.Response:
    return requests.request(
        method,
        f"{world.runtime.settings.base_url}/connect/issue-panel{path}",
        params=params,
        headers={"Authorization": f"JWT {token}"},
        timeout=10,
    )


def state_of(world: World, issue: dict[str, Any]) -> list[dict[str, Any]]:
    answer = call(world, "GET", "/state", token_for(world, issue), issueId=issue["id"])
    assert answer.status_code == 200, answer.text
    return answer.json()["mirrors"]


def audit_actions(world: World, subject: str) -> list[tuple[str, str]]:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor).where(AuditEvent.subject == subject)
        ).all()
    return [tuple(row) for row in rows]


def test_the_panel_shows_each_side_its_mirror_with_a_link_and_the_last_sync(world: World) -> None:
    source, mirror = mirrored(world, "Shown in the panel")
    page = panel_page(world, source["key"])
    assert page.status_code == 200, page.text
    site = world.sandbox.site_url("alpha")
    assert f'href="{site}/browse/{mirror["key"]}"' in page.text
    assert "Synced" in page.text and "never" not in page.text.split("Last sync")[1][:200]
    assert "frame-ancestors https://*.atlassian.net" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    back = panel_page(world, mirror["key"])
    assert f'href="{site}/browse/{source["key"]}"' in back.text
    [shown] = state_of(world, source)
    assert (shown["other_key"], shown["outcome"], shown["error"]) == (mirror["key"], "ok", None)
    assert shown["last_synced_at"] is not None


def test_an_issue_tandem_does_not_sync_says_so(world: World) -> None:
    alone = world.control("POST", "/issues", project="ALPR", summary="Never mirrored")
    world.settle()
    page = panel_page(world, alone["key"])
    assert page.status_code == 200
    assert "Tandem does not sync this issue" in page.text
    assert state_of(world, world.control("GET", f"/issues/{alone['key']}")) == []


def test_a_failed_sync_shows_its_error_in_plain_words(world: World) -> None:
    source, _ = mirrored(world, "Headed nowhere")
    world.control("PUT", f"/issues/{source['key']}", status="Done")
    world.settle()
    [shown] = state_of(world, source)
    assert shown["outcome"] == "failed"
    assert shown["error"].startswith("Tandem could not move ")
    assert "'Nowhere'" in shown["error"] and "no way there" in shown["error"]
    assert shown["error"] in unescape(panel_page(world, source["key"]).text)


def test_sync_now_queues_a_reconcile_of_the_link_and_is_audited(world: World) -> None:
    source, _ = mirrored(world, "Synced on request")
    [before] = state_of(world, source)
    answer = call(
        world, "POST", f"/links/{before['link_id']}/sync", token_for(world, source, MEMBER)
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["queued"] is True
    world.settle()
    [after] = state_of(world, source)
    assert after["last_attempt_id"] > before["last_attempt_id"]
    assert after["outcome_words"] == "In step: nothing needed copying"
    actions = audit_actions(world, before["link_id"])
    assert ("issue_link.sync_requested", f"jira:{MEMBER}") in actions


def test_a_token_for_one_issue_can_neither_read_nor_change_another(world: World) -> None:
    mine, _ = mirrored(world, "Mine")
    theirs, _ = mirrored(world, "Theirs")
    [their_link] = state_of(world, theirs)
    token = token_for(world, mine)
    assert call(world, "GET", "/state", token, issueId=theirs["id"]).status_code == 400
    sync = f"/links/{their_link['link_id']}/sync"
    assert call(world, "POST", sync, token, issueId=theirs["id"]).status_code == 400
    refused = call(world, "POST", sync, token)  # the token's own issue has no such link
    assert refused.status_code == 404, refused.text
    assert audit_actions(world, their_link["link_id"]) == []
    nameless = token_for(world, None)  # a token naming no issue reads none by the query
    for asked in ({"issueId": theirs["id"]}, {"issueKey": theirs["key"]}):
        read = call(world, "GET", "/state", nameless, **asked)
        assert read.status_code == 400 and "mirrors" not in read.json(), read.text
        forced = call(world, "POST", sync, nameless, **asked)
        assert forced.status_code == 400, forced.text
    assert audit_actions(world, their_link["link_id"]) == []


def test_bad_input_gets_a_plain_4xx(world: World) -> None:
    token = token_for(world, None)
    assert call(world, "GET", "/state", token).status_code == 400
    assert call(world, "GET", "/state", token, issueId="1; drop").status_code == 400
    assert call(world, "GET", "/state", token, issueKey="<script>").status_code == 400
    unknown = call(world, "POST", "/links/not-a-uuid/sync", token, issueId="1")
    assert unknown.status_code == 404
    assert call(world, "GET", "/state", "forged.token.here", issueId="1").status_code == 401


def test_each_button_needs_its_role(world: World) -> None:
    source, _ = mirrored(world, "Roles")
    [shown] = state_of(world, source)
    sync, unlink = f"/links/{shown['link_id']}/sync", f"/links/{shown['link_id']}/unlink"
    allowed = {
        account: call(
            world, "GET", "/state", token_for(world, source, account), issueId=source["id"]
        ).json()["allowed"]
        for account in (VIEWER, MEMBER, ADMIN)
    }
    assert allowed == {
        VIEWER: {"sync": False, "unlink": False},
        MEMBER: {"sync": True, "unlink": False},
        ADMIN: {"sync": True, "unlink": True},
    }
    viewer, member = token_for(world, source, VIEWER), token_for(world, source, MEMBER)
    assert call(world, "POST", sync, viewer).status_code == 403
    assert call(world, "POST", unlink, viewer).status_code == 403
    assert call(world, "POST", unlink, member).status_code == 403
    assert world.link_of(source["key"]).state == "active"
    page = panel_page(world, source["key"], viewer=None)
    assert page.status_code == 200  # the sandbox's first person: a viewer
    assert '<button type="button" data-action="sync" hidden>' in page.text
    anonymous = call(world, "GET", "/state", token_for(world, source, sub=None))
    assert anonymous.status_code == 401


def test_unlink_strips_tandems_marks_from_both_issues_and_they_stay_apart(world: World) -> None:
    source, mirror = mirrored(world, "To be unlinked")
    world.control("POST", f"/issues/{source['key']}/comments", body="Said before unlinking")
    world.settle()
    copied = world.comments(mirror["key"])
    assert len(copied) == 1 and "mirrored by Tandem" in copied[0]["text"]
    [shown] = state_of(world, source)
    answer = call(world, "POST", f"/links/{shown['link_id']}/unlink", token_for(world, source))
    assert answer.status_code == 200, answer.text
    site = world.sandbox.site_url("alpha")
    assert answer.json()["removed"] == {site: {"labels": 1, "properties": 1, "attributions": 1}}
    after = world.control("GET", f"/issues/{mirror['key']}")
    assert SYNC_LABEL not in after["fields"]["labels"]
    assert LINK_PROPERTY not in after["properties"]
    assert [c["text"] for c in world.comments(mirror["key"])] == ["Said before unlinking"]
    assert world.link_of(source["key"]).state == "unlinked"
    assert ("issue_link.unlinked", f"jira:{ADMIN}") in audit_actions(world, shown["link_id"])
    assert state_of(world, source) == []
    # A later change is not mirrored, and no second mirror is made.
    world.control("PUT", f"/issues/{source['key']}", summary="Changed after unlinking")
    world.settle()
    assert world.control("GET", f"/issues/{mirror['key']}")["fields"]["summary"] == (
        "To be unlinked"
    )
    assert world.link_of(source["key"]).state == "unlinked"  # still the one link
    last = world.attempts(source["key"])[-1]
    assert (last.outcome, last.error) == ("skipped", "the issues were unlinked")
    again = call(world, "POST", f"/links/{shown['link_id']}/unlink", token_for(world, source))
    assert again.status_code == 404  # no longer one of the issue's links


def test_an_unlink_jira_refuses_leaves_the_link_as_it_was(world: World) -> None:
    source, mirror = mirrored(world, "Unlink while Jira is down")
    [shown] = state_of(world, source)
    world.sandbox.set_faults(rate_5xx=1.0, status_5xx=503, app=world.app_key, seed=5)
    try:
        answer = call(world, "POST", f"/links/{shown['link_id']}/unlink", token_for(world, source))
    finally:
        world.sandbox.clear_faults()
    assert answer.status_code == 502, answer.text
    assert "nothing was unlinked" in answer.json()["message"]
    assert world.link_of(source["key"]).state == "active"
    assert SYNC_LABEL in world.control("GET", f"/issues/{mirror['key']}")["fields"]["labels"]
    assert not any(
        action == "issue_link.unlinked" for action, _ in audit_actions(world, shown["link_id"])
    )


def test_the_engines_jira_calls_have_plain_words() -> None:
    engine = {"create_issue", "edit_issue", "get_issue", "transition", "add_comment"}
    assert engine <= set(CALL_WORDS) and set(CALL_WORDS) & set(CALLS) >= engine
    missing = set(CALLS) - set(CALL_WORDS)
    assert not missing, f"give these calls plain words in sync/error_words.py: {missing}"


@pytest.mark.parametrize(
    ("recorded", "words"),
    [
        (
            "Jira refused edit_issue (400): summary: Field 'summary' cannot be set.",
            "Jira did not accept the change when Tandem tried to update the issue. "
            "Jira said: summary: Field 'summary' cannot be set.",
        ),
        (
            "Jira refused create_issue (403)",
            "Jira did not allow Tandem to create the mirror issue. Check that Tandem is still "
            "installed (or the site still connected) and may see this project.",
        ),
        (
            "Jira refused get_issue (404): Issue does not exist",
            "Tandem could not read the issue: Jira could not find it (it may have been deleted "
            "or moved). Jira said: Issue does not exist",
        ),
        (
            "Jira did not answer transition successfully after 4 attempts",
            "Jira did not answer when Tandem tried to change the issue's status; it will try "
            "again.",
        ),
        (
            "Jira asked us to wait 30 s",
            "Jira asked Tandem to slow down (for 30 s); it will try again after the pause.",
        ),
        ("the integration is disabled or paused", "The integration is disabled or paused."),
        (
            "Jira refused brand_new_call (500)",
            "Jira refused when Tandem tried to brand new call (error 500).",
        ),
        (None, None),
    ],
)
def test_recorded_errors_become_sentences(recorded: str | None, words: str | None) -> None:
    assert error_words(recorded) == words


def test_the_panel_page_escapes_what_it_shows(world: World) -> None:
    source, _ = mirrored(world, "Escaping")
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        link = session.execute(
            select(IssueLink).where(IssueLink.source_issue_key == source["key"])
        ).scalar_one()
        kept, link.target_issue_key = link.target_issue_key, "<img src=x onerror=alert(1)>"
    try:
        page = panel_page(world, source["key"])
    finally:
        with world.runtime.db.tenant_session(world.tenant_id) as session:
            session.get(IssueLink, link.id).target_issue_key = kept
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
