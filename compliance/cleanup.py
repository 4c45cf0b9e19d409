"""Disconnect & clean up, for one integration or the whole workspace: strip every sync
label, link property and comment attribution Tandem left on every site it can still
reach; then (a real run) disconnect the connections it used (compliance/disconnect.py).

A run is started by ``start_cleanup`` (compliance/cleanup_jobs.py) and executed by
``run_cleanup``, link by link, under a lease renewed by a heartbeat. Progress lives in
Redis (compliance/cleanup_runs.py), so a run that was stopped or killed resumes where it
was; a link it was in the middle of is inspected again (every write checks first) and
counted as first found. A dry run writes nothing and counts what a real run would remove,
per site and kind. A real run first stops sync for its integrations, and takes each
link's reconcile lock, so a reconcile that began before cannot write after it. Starting,
resuming, finishing, every integration disabled and every connection disconnected are
audited.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import redis
from redis.exceptions import LockError
from redis.lock import Lock

from compliance import cleanup_runs as runs
from compliance.cleanup_markers import Findings, IssueEnd, inspect, remove
from compliance.cleanup_runs import Counts, RunSpec
from compliance.cleanup_scope import (
    Link,
    Reach,
    Reaches,
    count_links,
    integrations_in,
    issue_ends,
    links_of,
    unreachable,
)
from compliance.disconnect import ADMIN_ACTION, connections_to_disconnect, disconnect_connections
from jira.errors import JiraError, TransientError
from models.audit import record_audit
from models.integrations import Integration
from runtime import Runtime
from sync.dispatch import LOCK_SECONDS, link_lock
from sync.integrations import set_enabled

MAX_ATTEMPTS = 20  # resumes after errors before a run is given up as failed


class _Heartbeat(threading.Thread):
    """Renews the run's lease while it runs, so a living run never looks killed."""

    def __init__(self, lease: Lock, every: float) -> None:
        super().__init__(name="cleanup-lease", daemon=True)
        self.lease, self.every = lease, every
        self.stopped, self.lost = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.lease.reacquire()
            except (LockError, redis.RedisError):
                self.lost.set()  # another worker may resume the run now: this one stops
                return


def run_cleanup(runtime: Runtime, run_id: str) -> dict[str, Any]:
    """Run (or resume) a clean-up run to its end; its progress view. A run another worker
    holds, or one already final, is left alone."""
    spec = runs.load_spec(runtime.redis, run_id)
    if spec is None:
        raise LookupError(f"no clean-up run {run_id}")
    lease = runs.lease(runtime.redis, run_id, spec.lease_seconds)
    if not lease.acquire(blocking=False):
        return _view(runtime, run_id)
    heartbeat = _Heartbeat(lease, max(spec.lease_seconds / 3, 0.2))
    heartbeat.start()
    try:
        if runs.run_status(runtime.redis, run_id) not in runs.FINAL:
            _execute(runtime, spec, heartbeat.lost)
    except Exception as error:
        _note_failure(runtime, spec, error)
        raise
    finally:
        heartbeat.stopped.set()
        heartbeat.join()
        with contextlib.suppress(LockError):  # lapsed: a resumed run may hold it now
            lease.release()
    return _view(runtime, run_id)


def _view(runtime: Runtime, run_id: str) -> dict[str, Any]:
    view = runs.run_view(runtime.redis, run_id)
    assert view is not None
    return view


def _execute(runtime: Runtime, spec: RunSpec, lost: threading.Event) -> None:
    with runtime.db.tenant_session(spec.tenant_id) as session:
        integrations = integrations_in(session, spec.scope)
        ids = [integration.id for integration in integrations]
        total = count_links(session, ids)
    fresh = runs.run_status(runtime.redis, spec.run_id) == "queued"
    attempts = runtime.redis.hincrby(runs.run_key(spec.run_id), "attempts", 1)
    fields: dict[str, Any] = {"started_at": int(time.time())} if fresh else {}
    runs.set_status(runtime.redis, spec.run_id, "running", total=total, **fields)
    _audit(
        runtime,
        spec,
        "cleanup.started" if fresh else "cleanup.resumed",
        integrations=[str(i) for i in ids],
        links=total,
        done=0 if fresh else len(runs.done_links(runtime.redis, spec.run_id)),
        attempt=attempts,
    )
    if not spec.dry_run:
        for integration in integrations:
            if integration.enabled:  # audited by set_enabled
                set_enabled(runtime, spec.tenant_id, integration.id, False, spec.actor)
    reaches = Reaches(runtime, spec.skip_installations)
    done = runs.done_links(runtime.redis, spec.run_id)
    for integration_id in ids:
        with runtime.db.tenant_session(spec.tenant_id) as session:
            integration = session.get(Integration, integration_id)
            if integration is None:
                continue
            ends = reaches.of(session, integration)
            links = links_of(session, integration_id)
        runs.set_json(runtime.redis, spec.run_id, "unreachable", unreachable(reaches.all()))
        for link in links:
            if link.id in done:
                continue
            if lost.is_set():
                raise TransientError("the run's lease lapsed; it resumes in another attempt")
            if runs.run_status(runtime.redis, spec.run_id) != "running":
                return  # superseded (an uninstall took over): stop here
            _one_link(runtime, spec, ends, link)
    _finish(runtime, spec, reaches)


def _one_link(runtime: Runtime, spec: RunSpec, ends: dict[str, Reach], link: Link) -> None:
    """Count (dry run) or remove one link's marks, and record it done."""
    error = None
    counts: Counts = {}
    try:
        if spec.dry_run:
            counts = _inspect_all(issue_ends(ends, link), link)[0]
        else:
            lock = _take_link_lock(runtime, spec, link)
            try:
                counts = _clean(runtime, spec, issue_ends(ends, link), link)
            finally:
                with contextlib.suppress(LockError):  # lapsed after 120 s: nothing to free
                    lock.release()
    except TransientError:
        raise  # the run stops; the sweep resumes it and this link is looked at again
    except JiraError as failure:
        error = f"{failure.call or 'jira'}: {failure}"
    calls: dict[str, int] = {}
    for reach in {id(reach): reach for reach in ends.values()}.values():  # one per end
        calls[reach.site] = calls.get(reach.site, 0) + reach.new_calls()
    runs.record_link(runtime.redis, spec.run_id, link.id, counts, calls, spec.dry_run, error)


def _take_link_lock(runtime: Runtime, spec: RunSpec, link: Link) -> Lock:
    """The link's reconcile lock, held under the run's own token: a killed attempt of this
    run leaves it behind on the link it was in, and its resume takes it back at once."""
    token = f"cleanup:{spec.run_id}"
    lock = link_lock(runtime, link.integration_id, "source", link.source)
    if runtime.redis.get(lock.name) == token.encode():
        lock.local.token = token.encode()
        with contextlib.suppress(LockError):
            lock.reacquire()
            return lock
    if not lock.acquire(blocking=True, blocking_timeout=LOCK_SECONDS, token=token):
        raise TransientError("a reconcile of this link kept its lock")
    return lock


def _inspect_all(
    ends: list[IssueEnd], link: Link
) -> tuple[Counts, list[tuple[IssueEnd, Findings]]]:
    """What is still on each end: the counts per site and kind, and the findings."""
    counts: Counts = {}
    work = []
    for end in ends:
        found = inspect(end, str(link.integration_id))
        if found is not None:
            _add(counts, end.site, found.counts())
            work.append((end, found))
    return counts, work


def _clean(runtime: Runtime, spec: RunSpec, ends: list[IssueEnd], link: Link) -> Counts:
    """Remove what is found, counted as found before the first write: a run killed
    mid-link counts, on resume, what it found the first time."""
    counts, work = _inspect_all(ends, link)
    inflight = runs.get_json(runtime.redis, spec.run_id, "inflight", {})
    if inflight.get("link") == link.id:
        counts = inflight["counts"]
    else:
        runs.set_json(runtime.redis, spec.run_id, "inflight", {"link": link.id, "counts": counts})
    for end, found in work:
        remove(end, found)
    return counts


def _add(total: Counts, site: str, counts: dict[str, int]) -> None:
    row = total.setdefault(site, {})
    for kind, count in counts.items():
        row[kind] = row.get(kind, 0) + count


def _finish(runtime: Runtime, spec: RunSpec, reaches: Reaches) -> None:
    """After the last link: a real run disconnects (unless links failed and it may be run
    again), then the run is final and audited."""
    view = _view(runtime, spec.run_id)
    status = "finished"
    disconnected: list[dict[str, object]] = []
    if not spec.dry_run:
        if view["failed"] and spec.cause != "uninstall":
            status = "incomplete"  # keep the grants: a new run may still fix the failures
        else:
            connections = connections_to_disconnect(
                runtime, spec.tenant_id, spec.scope.integration_id
            )
            disconnected = disconnect_connections(
                runtime, spec.tenant_id, connections, spec.actor, spec.run_id
            )
            runs.set_json(runtime.redis, spec.run_id, "disconnected", disconnected)
            if disconnected:
                runtime.redis.hset(runs.run_key(spec.run_id), "admin_action", ADMIN_ACTION)
    runs.finish(runtime.redis, spec, status)
    _audit(
        runtime,
        spec,
        "cleanup.finished",
        status=status,
        links=view["total"],
        failed=view["failed"],
        counts=view["planned"] if spec.dry_run else view["removed"],
        unreachable=unreachable(reaches.all()),
        disconnected=[item["connection"] for item in disconnected],
        admin_action=ADMIN_ACTION if disconnected else None,
    )


def _note_failure(runtime: Runtime, spec: RunSpec, error: Exception) -> None:
    """Keep the error for the page; after too many attempts the run is given up."""
    message = str(error)[:300] or type(error).__name__
    runtime.redis.hset(runs.run_key(spec.run_id), "error", message)
    attempts = int(runtime.redis.hget(runs.run_key(spec.run_id), "attempts") or 0)
    if attempts >= MAX_ATTEMPTS and runs.run_status(runtime.redis, spec.run_id) == "running":
        runs.finish(runtime.redis, spec, "failed")
        _audit(runtime, spec, "cleanup.failed", error=message, attempts=attempts)


def _audit(runtime: Runtime, spec: RunSpec, action: str, **details: Any) -> None:
    with runtime.db.tenant_session(spec.tenant_id) as session:
        record_audit(
            session,
            spec.tenant_id,
            spec.actor,
            action,
            subject=spec.run_id,
            scope=spec.scope.kind,
            integration=str(spec.scope.integration_id) if spec.scope.integration_id else None,
            dry_run=spec.dry_run,
            cause=spec.cause,
            **details,
        )
