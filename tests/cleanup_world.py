"""A world for clean-up tests: the OAuth world (alpha installed through Connect, beta
connected through OAuth consent) with two two-way integrations through the one connection,
ALP <-> BET (summary and comments) and ALPR <-> BETR (summary only), and
issues born on both sides with comments written on both sides (some of them rich ADF)
and settled; plus what the tests compare: every issue of a site (with its properties),
and each comment as it must be once Tandem's marks are gone."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from rq import Queue, SimpleWorker

from compliance.cleanup_markers import KINDS
from compliance.cleanup_runs import run_view
from config import Settings
from models.integration_config import create_integration
from runtime import Runtime
from sync.connection_jobs import integration_saved
from sync.markers import ATTRIBUTION_PREFIX, LINK_PROPERTY, SYNC_LABEL
from tests.oauth_world import CLIENT_ID, OAuthWorld, oauth_world

dumps = partial(json.dumps, ensure_ascii=False, sort_keys=True)
SITES = ("alpha", "beta")
TWO_WAY = {"name": "ALP with BET", "direction": "two_way", "fields": ["summary", "comments"]}
OTHER = {"name": "ALPR with BETR", "direction": "two_way", "fields": ["summary"]}
KEEP = "keep-me"  # a person's label on a mirror: clean-up leaves it
RICH = {
    "type": "doc",
    "version": 1,
    "content": [
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "Bold", "marks": [{"type": "strong"}]},
                {"type": "text", "text": " and "},
                {"type": "text", "text": "code", "marks": [{"type": "code"}]},
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
        {"type": "codeBlock", "content": [{"type": "text", "text": "print('hi')"}]},
    ],
}


@dataclass
class CleanupWorld:
    oauth: OAuthWorld
    two_way: uuid.UUID
    other: uuid.UUID  # ALPR <-> BETR

    @property
    def runtime(self) -> Runtime:
        return self.oauth.runtime

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.oauth.tenant_id

    def control(self, site: str, method: str, path: str, **body: object) -> Any:
        return self.oauth.control(site, method, path, **body)

    @property
    def connection_site(self) -> str:
        """beta's URL, as the connection (and a run's counts) name it."""
        return self.oauth.sandbox.site_url("beta")

    def settle(self) -> None:
        self.oauth.settle()

    def sandbox_hooks(self) -> list[dict[str, Any]]:
        """The dynamic webhooks Tandem's OAuth client has registered on beta."""
        hooks = self.oauth.sandbox.control("GET", "/dynamic-webhooks")
        return [hook for hook in hooks if hook["app"] == CLIENT_ID]

    def run_jobs(self) -> None:
        """Run what is queued (clean-up jobs included) in this process."""
        queues = [Queue(name, connection=self.runtime.redis) for name in ("maintenance", "sync")]
        SimpleWorker(queues, connection=self.runtime.redis).work(burst=True)

    def view(self, run_id: str) -> dict[str, Any]:
        found = run_view(self.runtime.redis, run_id)
        assert found is not None
        return found

    def issues(self, site: str) -> list[dict[str, Any]]:
        """Every issue of the site with its properties, in key order."""
        keys = sorted(issue["key"] for issue in self.control(site, "GET", "/issues"))
        return [self.control(site, "GET", f"/issues/{key}") for key in keys]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {site: self.issues(site) for site in SITES}


@contextmanager
def cleanup_world(
    settings: Settings, runtime: Runtime, app_key: str, pairs: int, other_pairs: int = 3
) -> Iterator[CleanupWorld]:
    """The world with ``pairs`` issues in the two-way integration (half born on each
    site) and ``other_pairs`` in the other one, all mirrored."""
    with oauth_world(settings, runtime, app_key) as world:
        assert world.consent().status_code == 200
        alpha = {"kind": "installation", "id": str(world.installation_id)}
        beta = {"kind": "connection", "id": str(world.connection("beta").id)}
        with world.runtime.db.tenant_session(world.tenant_id) as session:
            made = [
                create_integration(
                    session,
                    {
                        **spec,
                        "source": {**alpha, "project": source},
                        "target": {**beta, "project": target},
                        "enabled": True,
                    },
                )
                for spec, source, target in ((TWO_WAY, "ALP", "BET"), (OTHER, "ALPR", "BETR"))
            ]
        for integration in made:
            integration_saved(world.runtime, world.tenant_id, integration)
        world.settle()
        built = CleanupWorld(world, made[0].id, made[1].id)
        populate(built, pairs, other_pairs)
        yield built


def populate(world: CleanupWorld, pairs: int, other_pairs: int) -> None:
    """Issues on both sides with a comment each; once mirrored, more comments on both
    sides (every third rich), a second comment on some originals and a person's label on
    some mirrors; settled."""
    for index in range(pairs):
        site, project = ("alpha", "ALP") if index % 2 == 0 else ("beta", "BET")
        created = world.control(site, "POST", "/issues", project=project, summary=f"Issue {index}")
        world.control(site, "POST", f"/issues/{created['key']}/comments", body=f"First of {index}")
    for index in range(other_pairs):
        world.control("alpha", "POST", "/issues", project="ALPR", summary=f"Other {index}")
    world.settle()
    for site in SITES:
        for index, issue in enumerate(world.issues(site)):
            if issue["fields"]["project"]["key"] not in ("ALP", "BET"):
                continue
            key = issue["key"]
            if SYNC_LABEL in issue["fields"]["labels"]:  # a mirror
                body = RICH if index % 3 == 0 else f"Reply on the mirror {key}"
                world.control(site, "POST", f"/issues/{key}/comments", body=body)
                if index % 4 == 0:
                    world.control(site, "PUT", f"/issues/{key}", labels=[SYNC_LABEL, KEEP])
            elif index % 5 == 0:
                world.control(site, "POST", f"/issues/{key}/comments", body=f"More on {key}")
    world.settle()


def comment_bodies(issue: dict[str, Any]) -> dict[str, Any]:
    return {c["id"]: c["body"] for c in issue["fields"]["comment"]["comments"]}


def is_copy(body: Any) -> bool:
    return ATTRIBUTION_PREFIX in dumps(body["content"][-1])


def marks(snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Tandem's marks in a snapshot, by kind (every kind present)."""
    found = dict.fromkeys(KINDS, 0)
    for issues in snapshot.values():
        for issue in issues:
            found["labels"] += SYNC_LABEL in issue["fields"]["labels"]
            found["properties"] += LINK_PROPERTY in issue["properties"]
            found["attributions"] += sum(map(is_copy, comment_bodies(issue).values()))
    return found


def totals(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """Counts per site and kind summed over the sites."""
    summed = dict.fromkeys(KINDS, 0)
    for row in counts.values():
        for kind, count in row.items():
            summed[kind] += count
    return summed


def stripped(body: Any) -> Any:
    """A comment body as clean-up leaves it: a copy without its attribution paragraph."""
    return {**body, "content": body["content"][:-1]} if is_copy(body) else body


def assert_clean(
    world: CleanupWorld, before: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """On the issues of ``before`` (by site): no sync label, link property or attribution
    left; every comment is its former self minus the attribution, byte for byte; other
    labels stay. Returns the snapshot after, of the same issues."""
    now = world.snapshot()
    after = {site: [i for i in now[site] if i["key"] in _keys(before[site])] for site in before}
    assert marks(after) == dict.fromkeys(KINDS, 0)
    for site, issues in after.items():
        assert [i["key"] for i in issues] == [i["key"] for i in before[site]], site
        previous = {issue["key"]: issue for issue in before[site]}
        for issue in issues:
            assert ATTRIBUTION_PREFIX not in dumps(issue), issue["key"]
            was = {c: stripped(b) for c, b in comment_bodies(previous[issue["key"]]).items()}
            assert comment_bodies(issue) == was, issue["key"]
            kept = [
                label for label in previous[issue["key"]]["fields"]["labels"] if label != SYNC_LABEL
            ]
            assert [label for label in issue["fields"]["labels"] if label in kept] == kept
    return after


def _keys(issues: list[dict[str, Any]]) -> set[str]:
    return {issue["key"] for issue in issues}


def assert_copies_equal_originals(before: dict, after: dict) -> None:
    """Each original comment now appears twice, byte for byte: itself and its copy."""

    def bodies(snapshot: dict, originals_only: bool) -> list[str]:
        return sorted(
            dumps(body)
            for issues in snapshot.values()
            for issue in issues
            for body in comment_bodies(issue).values()
            if not (originals_only and is_copy(body))
        )

    assert bodies(after, False) == sorted(bodies(before, True) * 2)
