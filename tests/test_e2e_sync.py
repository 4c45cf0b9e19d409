"""The sync engine end to end with real processes: gunicorn web and the RQ worker as the
Procfile starts them, a private Redis, this session's PostgreSQL, and the sandbox over
real HTTP (installing the app, delivering signed webhooks, answering REST calls).

Tandem is installed on a sandbox site and a two-way integration joins its two projects
(tests/support/stack.py). Every change is made as a person through the sandbox's control
plane; then we wait until it shows on the other side and everything is quiet (no webhook
pending in the sandbox or the inbox, no job queued, running or scheduled, no reconcile
asked for), and read the sandbox's call counters for the app. A person's changes are not
counted, so the app's writes are all Tandem's: N writes with the change visible on the
other side are N writes there and none back (no echo)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from config import Settings
from models.links import IssueLink
from models.sync_attempts import SyncAttempt
from models.webhook_events import WebhookEvent
from rq_worker import QUEUES
from runtime import Runtime
from sandbox.seed import PEOPLE, person_account_id
from sandbox.testing import RunningSandbox
from sync.markers import DELETED_LABEL
from tests.support.processes import Process, logs, wait_until
from tests.support.stack import process_stack
from tests.sync_world import adf_text

APP_KEY = "io.tandem.e2e-sync"
SITE = "alpha"
SEED = "e2e-sync"
WAIT = 20  # seconds: a bound, not a pause; each change settles in well under one
TWO_WAY = {
    "name": "ALP with ALPR",
    "direction": "two_way",
    "fields": [
        "summary",
        "description",
        "priority",
        "issuetype",
        "status",
        "assignee",
        "comments",
        "attachments",
    ],
    "on_issue_deleted": "label_mirror",
    "enabled": True,
}
ISSUE = "/rest/api/3/issue/{issueIdOrKey}"
EDIT = {f"PUT {ISSUE}": 1}
DELETED_SKIP = "the issue was deleted"


@dataclass
class Stack:
    sandbox: RunningSandbox
    redis: redis.Redis
    runtime: Runtime
    processes: list[Process]
    tenant_id: uuid.UUID | None = None

    def control(self, method: str, path: str, **body: Any) -> Any:
        """A person's action on the site (the sandbox's control plane, over HTTP)."""
        return self.sandbox.control(method, f"/sites/{SITE}{path}", body or None)

    def issue(self, key: str) -> dict[str, Any]:
        return self.control("GET", f"/issues/{key}")["fields"]

    def quiet(self) -> bool:
        """Nothing left to do anywhere: no delivery, inbox row, job or reconcile waiting."""
        if not self.sandbox.control("POST", "/deliveries/wait", {"timeout": 0})["idle"]:
            return False
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            pending = session.execute(
                select(func.count()).where(WebhookEvent.status == "pending")
            ).scalar_one()
        if pending:
            return False
        for name in QUEUES:
            queue = Queue(name, connection=self.redis)
            if queue.count or StartedJobRegistry(queue=queue).count:
                return False
            if ScheduledJobRegistry(queue=queue).count:
                return False
        return not any(self.redis.scan_iter("tandem:dirty:*")) and not any(
            self.redis.scan_iter("tandem:lock:*")
        )

    def settled(self) -> bool:
        """Quiet, and still quiet a moment later (a job between queue and registry)."""
        return self.quiet() and not time.sleep(0.2) and self.quiet()

    def attempts(self) -> list[SyncAttempt]:
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            query = select(SyncAttempt).order_by(SyncAttempt.id)
            return list(session.execute(query).scalars())

    def change(
        self, action: Callable[[], Any], arrived: Callable[[], bool]
    ) -> tuple[dict[str, int], list[SyncAttempt]]:
        """Make one change; once it ``arrived`` and all is quiet, the app's writes (by
        endpoint) and the sync attempts it caused."""
        assert wait_until(self.settled, WAIT), logs(self.processes)
        self.sandbox.reset_counters()
        before = len(self.attempts())
        action()
        assert wait_until(arrived, WAIT), logs(self.processes)
        assert wait_until(self.settled, WAIT), logs(self.processes)
        counters = self.sandbox.counters(APP_KEY)
        assert counters["violations"] == []
        writes = {
            name: row["calls"]
            for name, row in counters["by_endpoint"].items()
            if not name.startswith("GET ") and "/search" not in name
        }
        return writes, self.attempts()[before:]


@pytest.fixture(scope="module")
def stack(
    settings: Settings, runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with process_stack(
        settings, runtime, tmp_path_factory.mktemp("redis"), APP_KEY, SITE, SEED, TWO_WAY
    ) as started:
        yield Stack(started.sandbox, started.redis, runtime, started.processes, started.tenant_id)


def mirror_of(stack: Stack, key: str) -> str | None:
    """The key of ``key``'s mirror, once Tandem has linked one."""
    with stack.runtime.db.tenant_session(stack.tenant_id) as session:
        return session.execute(
            select(IssueLink.target_issue_key).where(IssueLink.source_issue_key == key)
        ).scalar_one_or_none()


def create_pair(stack: Stack, summary: str) -> tuple[str, str, dict[str, int]]:
    """A person creates an issue in ALP; its key, its mirror's key and the app's writes."""
    created = {}

    def mirrored() -> bool:
        mirror = mirror_of(stack, created["key"])
        return mirror is not None and stack.issue(mirror)["summary"] == summary

    writes, attempts = stack.change(
        lambda: created.update(stack.control("POST", "/issues", project="ALP", summary=summary)),
        mirrored,
    )
    assert [(a.action, a.outcome) for a in attempts] == [("create", "ok")], attempts
    mirror = mirror_of(stack, created["key"])
    assert mirror is not None and mirror.startswith("ALPR-")
    return created["key"], mirror, writes


@dataclass(frozen=True)
class Step:
    """A person's change to the issue (``method`` on ``/issues/{key}{path}``), what the
    mirror then shows, the app's writes that takes, and the reconcile's outcome."""

    name: str
    body: dict[str, Any]
    shows: Callable[[dict[str, Any]], bool]
    writes: dict[str, int]
    method: str = "PUT"
    path: str = ""
    outcome: str = "ok"


def described(attempts: list[SyncAttempt]) -> list[tuple[Any, ...]]:
    """The attempts as a failure message shows them."""
    return [(a.action, a.outcome, a.error, a.details) for a in attempts]


def comment_texts(fields: dict[str, Any]) -> list[str]:
    return [adf_text(c["body"]).split("\n")[0] for c in fields["comment"]["comments"]]


PERSON = person_account_id(SEED, SITE, PEOPLE[0])
STEPS = (
    Step("summary", {"summary": "Renamed in A"}, lambda f: f["summary"] == "Renamed in A", EDIT),
    Step(
        "description",
        {"description": "Why it matters"},
        lambda f: adf_text(f["description"]) == "Why it matters",
        EDIT,
    ),
    Step("priority", {"priority": "High"}, lambda f: f["priority"]["name"] == "High", EDIT),
    Step("issue type", {"issuetype": "Bug"}, lambda f: f["issuetype"]["name"] == "Bug", EDIT),
    Step(
        "direct transition",
        {"status": "In Progress"},
        lambda f: f["status"]["name"] == "In Progress",
        {f"POST {ISSUE}/transitions": 1},
    ),
    # ALPR's review workflow goes from In Progress to Done only through In Review.
    Step(
        "multi-step transition",
        {"status": "Done"},
        lambda f: f["status"]["name"] == "Done",
        {f"POST {ISSUE}/transitions": 2},
    ),
    # Labels are in no allow-list: nothing travels, nothing is written.
    Step(
        "labels",
        {"labels": ["only-in-a"]},
        lambda f: "only-in-a" not in f["labels"],
        {},
        outcome="skipped",
    ),
    Step(
        "assignee",
        {"assignee": PERSON},
        lambda f: (f["assignee"] or {}).get("accountId") == PERSON,
        EDIT,
    ),
    Step(
        "comment",
        {"body": "Said in A"},
        lambda f: comment_texts(f) == ["Said in A"],
        {f"POST {ISSUE}/comment": 1},
        "POST",
        "/comments",
    ),
    Step(
        "attachment",
        {"filename": "notes.txt", "content": "from A"},
        lambda f: [(a["filename"], a["size"]) for a in f["attachment"]] == [("notes.txt", 6)],
        {f"POST {ISSUE}/attachments": 1},
        "POST",
        "/attachments",
    ),
    # on_issue_deleted is label_mirror: one edit of the mirror's labels.
    Step(
        "delete",
        {},
        lambda f: DELETED_LABEL in f["labels"],
        EDIT,
        "DELETE",
    ),
)


def test_each_change_in_a_travels_to_b_with_its_writes_only(stack: Stack) -> None:
    each_change_travels(stack, STEPS)


def each_change_travels(stack: Stack, steps: tuple[Step, ...]) -> None:
    """Each of ``steps`` made in A shows in B, with only its writes and one attempt."""
    a, b, writes = create_pair(stack, "Born in A")
    assert writes == {"POST /rest/api/3/issue": 1}, writes
    for step in steps:
        writes, attempts = stack.change(
            lambda step=step: stack.control(step.method, f"/issues/{a}{step.path}", **step.body),
            lambda step=step: step.shows(stack.issue(b)),
        )
        assert writes == step.writes, (step.name, writes)
        main = [x for x in attempts if x.error != DELETED_SKIP]
        assert [x.outcome for x in main] == [step.outcome], (step.name, described(attempts))
        # Only a deletion races: its comments' events find the issue gone, and skip.
        assert step.method == "DELETE" or main == attempts, (step.name, described(attempts))


def test_a_change_in_b_travels_back_to_a_once(stack: Stack) -> None:
    a, b, _ = create_pair(stack, "Two ways")
    writes, attempts = stack.change(
        lambda: stack.control("PUT", f"/issues/{b}", summary="Renamed in B", priority="Low"),
        lambda: stack.issue(a)["summary"] == "Renamed in B",
    )
    assert writes == EDIT, writes
    assert stack.issue(a)["priority"]["name"] == "Low"
    assert [(x.outcome, x.details["side"], x.details["changed"]) for x in attempts] == [
        ("ok", "target", ["priority", "summary"])
    ]
