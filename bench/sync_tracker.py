"""What `bench/sync_e2e.py` expects to see on the target, and one thread that watches for it.

Every change made on the source (ALP) is recorded with the time it was made and what
its mirror must show once it arrives: the mirror exists (create), the mirror's summary
carries the edit's unique token (or a later edit's), its status is the new one, a comment
carries the comment's token, an attachment has the file's unique name. The poller reads
the link table for mirrors not yet known, then reads, through the sandbox's control plane
(which the app's call counters never see), each mirror that still has something pending,
and stamps every expectation it finds met with the time of that read.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
import requests
from sqlalchemy import text

from models.db import Database

POLL_INTERVAL = 0.1  # a round; a mirror is read again after a tenth of its oldest wait,
MAX_READ_INTERVAL = 2.0  # between POLL_INTERVAL and this (resolution <= 10% of latency)
READ_BATCH = 100  # mirrors read per request
QUEUES = ("webhooks", "sync", "maintenance")


@dataclass
class Change:
    """One change made on the source issue ``issue``."""

    seq: int
    phase: str
    kind: str  # create, edit, comment, transition, attachment
    issue: str
    value: str  # the summary token, the status name, the comment token, the file name
    made_at: float  # time.monotonic() when the control call returned
    min_writes: int
    seen_at: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.seen_at is None else max(0.0, self.seen_at - self.made_at)


@dataclass
class IssueTrack:
    """Everything made on one source issue, in order, and where its mirror is."""

    key: str
    mirror: str | None = None
    create: Change | None = None
    edits: list[Change] = field(default_factory=list)  # summary tokens (create's first)
    statuses: list[Change] = field(default_factory=list)
    comments: list[Change] = field(default_factory=list)
    files: list[Change] = field(default_factory=list)

    def oldest_pending(self) -> float | None:
        """When the oldest change the mirror does not show yet was made (None: all shown)."""
        every = [self.create, *self.edits, *self.statuses, *self.comments, *self.files]
        times = [c.made_at for c in every if c is not None and c.seen_at is None]
        return min(times) if times else None

    def pending(self) -> bool:
        return self.oldest_pending() is not None

    def status_pending(self) -> bool:
        return any(c.seen_at is None for c in self.statuses)


def _mark(changes: list[Change], at: float) -> None:
    for change in changes:
        if change.seen_at is None:
            change.seen_at = at


class Tracker:
    """Thread-safe record of changes and what the target shows."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issues: dict[str, IssueTrack] = {}
        self.changes: list[Change] = []

    def add(self, change: Change) -> None:
        with self.lock:
            track = self.issues.setdefault(change.issue, IssueTrack(change.issue))
            if change.kind == "create":
                track.create = change
                track.edits.append(change)  # its summary token is edit number 0
            elif change.kind == "edit":
                track.edits.append(change)
            elif change.kind == "transition":
                track.statuses.append(change)
            elif change.kind == "comment":
                track.comments.append(change)
            elif change.kind == "attachment":
                track.files.append(change)
            self.changes.append(change)

    def status_busy(self, key: str) -> bool:
        """Whether ``key`` has a status change its mirror does not show yet."""
        with self.lock:
            track = self.issues.get(key)
            return bool(track and track.status_pending())

    def pending_tracks(self) -> tuple[list[str], dict[str, tuple[str, float]]]:
        """(source keys whose mirror is unknown, {source key: (mirror key, oldest pending
        change's time)} for those whose mirror is known)."""
        unknown: list[str] = []
        known: dict[str, tuple[str, float]] = {}
        with self.lock:
            for track in self.issues.values():
                oldest = track.oldest_pending()
                if oldest is None:
                    continue
                if track.mirror:
                    known[track.key] = (track.mirror, oldest)
                else:
                    unknown.append(track.key)
        return unknown, known

    def set_mirrors(self, mirrors: dict[str, str]) -> None:
        with self.lock:
            for source, mirror in mirrors.items():
                track = self.issues.get(source)
                if track is not None and track.mirror is None:
                    track.mirror = mirror

    def observe(self, key: str, mirror: dict[str, Any], at: float) -> None:
        """Stamp what the mirror ``mirror`` (read at ``at``) shows of ``key``'s changes."""
        fields = mirror.get("fields") or {}
        summary = fields.get("summary")
        status = (fields.get("status") or {}).get("name")
        bodies = json.dumps(
            [c.get("body") for c in (fields.get("comment") or {}).get("comments", [])]
        )
        files = {a.get("filename") for a in fields.get("attachment") or []}
        with self.lock:
            track = self.issues[key]
            if track.create is not None:
                _mark([track.create], at)
            tokens = [c.value for c in track.edits]
            if summary in tokens:  # that edit, and every earlier one, is reflected
                _mark(track.edits[: tokens.index(summary) + 1], at)
            names = [c.value for c in track.statuses]
            if status in names:  # the newest change to that status (one pending at a time)
                newest = len(names) - 1 - names[::-1].index(status)
                _mark(track.statuses[: newest + 1], at)
            _mark([c for c in track.comments if c.seen_at is None and c.value in bodies], at)
            _mark([c for c in track.files if c.seen_at is None and c.value in files], at)

    def of_phase(self, phase: str) -> list[Change]:
        with self.lock:
            return [c for c in self.changes if c.phase == phase]

    def all_seen(self, phase: str) -> bool:
        with self.lock:
            return all(c.seen_at is not None for c in self.changes if c.phase == phase)


@dataclass
class QueueSample:
    at: float
    webhooks: int
    sync: int


class Poller:
    """One thread: find mirrors in the link table, read pending mirrors, stamp them;
    and sample the RQ queue lengths on the way."""

    def __init__(
        self,
        tracker: Tracker,
        db: Database,
        tenant_id: uuid.UUID,
        read_issues: Callable[[requests.Session, list[str]], dict[str, dict[str, Any]]],
        queue_redis: redis.Redis,
    ) -> None:
        self.tracker = tracker
        self.db = db
        self.tenant_id = tenant_id
        self.read_issues = read_issues
        self.queue_redis = queue_redis
        self.samples: list[QueueSample] = []
        self.rounds = 0
        self.errors = 0
        self._stop = threading.Event()
        self._next_read: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="sync-e2e-poller", daemon=True)
        self._http = requests.Session()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._http.close()

    def _links(self, sources: list[str]) -> dict[str, str]:
        with self.db.tenant_session(self.tenant_id) as session:
            rows = session.execute(
                text(
                    "SELECT source_issue_key, target_issue_key FROM issue_links "
                    "WHERE source_issue_key = ANY(:keys)"
                ),
                {"keys": sources},
            ).all()
        return {source: target for source, target in rows}

    def _read(self, due: dict[str, str]) -> None:
        """Read the due mirrors, a batch per request (so the poller's own load on the
        sandbox stays small however many changes are pending), and stamp what they show."""
        pending = list(due.items())
        for start in range(0, len(pending), READ_BATCH):
            batch = pending[start : start + READ_BATCH]
            found = self.read_issues(self._http, [mirror for _, mirror in batch])
            at = time.monotonic()
            for key, mirror in batch:
                if mirror in found:
                    self.tracker.observe(key, found[mirror], at)

    def _sample_queues(self) -> None:
        with self.queue_redis.pipeline() as pipeline:
            webhooks, sync = pipeline.llen("rq:queue:webhooks").llen("rq:queue:sync").execute()
        self.samples.append(QueueSample(time.monotonic(), int(webhooks), int(sync)))

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                unknown, known = self.tracker.pending_tracks()
                if unknown:
                    found = self._links(unknown)
                    self.tracker.set_mirrors(found)
                    known |= {source: (mirror, started) for source, mirror in found.items()}
                due = {}
                for source, (mirror, oldest) in known.items():
                    if self._next_read.get(source, 0.0) <= started:
                        due[source] = mirror
                        wait = min(MAX_READ_INTERVAL, (started - oldest) / 10)
                        self._next_read[source] = started + max(POLL_INTERVAL, wait)
                self._read(due)
                self._sample_queues()
            except Exception:
                self.errors += 1
            self.rounds += 1
            self._stop.wait(max(0.0, POLL_INTERVAL - (time.monotonic() - started)))
