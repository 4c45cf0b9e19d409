"""Disconnect & clean up one integration: strip every sync label, link property and
comment attribution Tandem left, on every site it can still reach.

``plan_cleanup`` is the dry run: it reads both issues of every link and counts what is
there, per site and kind. ``run_cleanup`` first disables the integration (so sync adds
nothing back), then works link by link, writing only what it still finds. Progress (the
links done, the counts removed, the total) lives in Redis under
``tandem:cleanup:<integration>``; a stopped or killed run resumes where it was, and a
link it was in the middle of is simply inspected again (every write checks first).
A run that starts fresh and the run that finishes are audited.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select

from compliance.cleanup_markers import KINDS, IssueEnd, inspect, remove
from jira.client import JiraClient
from jira.errors import AuthorizationError
from jira.meter import CallMeter
from models.audit import record_audit
from models.integrations import Integration
from models.links import CommentLink, IssueLink
from runtime import Runtime
from sync.integrations import set_enabled
from sync.sites import client_for, ends_of

PROGRESS_TTL = 30 * 24 * 3600
Counts = dict[str, dict[str, int]]


def progress_key(integration_id: uuid.UUID | str) -> str:
    """The Redis hash holding a clean-up's progress."""
    return f"tandem:cleanup:{integration_id}"


def _done_key(integration_id: uuid.UUID | str) -> str:
    return f"{progress_key(integration_id)}:done"


def _load(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID
) -> tuple[dict[str, tuple[JiraClient, str] | None], list[dict[str, Any]]]:
    """Clients for both ends (None where unreachable) and every link with its copy ids."""
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is None:
            raise LookupError("no such integration")
        clients: dict[str, tuple[JiraClient, str] | None] = {}
        for side, (kind, end_id) in zip(("source", "target"), ends_of(integration), strict=True):
            try:
                clients[side] = client_for(runtime, session, kind, end_id, CallMeter())
            except AuthorizationError:
                clients[side] = None
        rows = session.execute(
            select(IssueLink)
            .where(IssueLink.integration_id == integration_id)
            .order_by(IssueLink.id)
        ).scalars()
        links = [
            {
                "id": str(row.id),
                "source": row.source_issue_id,
                "target": row.target_issue_id,
                "deleted": row.state == "deleted",
                "copies": {"source": set(), "target": set()},
            }
            for row in rows
        ]
        by_id = {link["id"]: link for link in links}
        comment_rows = session.execute(
            select(CommentLink).where(CommentLink.issue_link_id.in_([r["id"] for r in links]))
        ).scalars()
        for copy in comment_rows:
            side = "target" if copy.origin == "source" else "source"
            copy_id = copy.target_comment_id if side == "target" else copy.source_comment_id
            if copy_id:
                by_id[str(copy.issue_link_id)]["copies"][side].add(copy_id)
    return clients, links


def _ends(
    clients: dict[str, tuple[JiraClient, str] | None], link: dict[str, Any]
) -> list[IssueEnd]:
    """The link's issues on the sites that can still be reached."""
    ends = []
    for side in ("source", "target"):
        reach = clients[side]
        if reach is not None:
            ends.append(
                IssueEnd(
                    site=reach[1],
                    client=reach[0],
                    issue_id=link[side],
                    copy_ids=frozenset(link["copies"][side]),
                    source_deleted=link["deleted"],
                )
            )
    return ends


def _add(total: Counts, site: str, counts: dict[str, int]) -> None:
    row = total.setdefault(site, dict.fromkeys(KINDS, 0))
    for kind, count in counts.items():
        row[kind] += count


def _unreachable(clients: dict[str, tuple[JiraClient, str] | None]) -> list[str]:
    return [side for side, reach in clients.items() if reach is None]


def plan_cleanup(runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID) -> dict:
    """Dry run: what clean-up would remove, per site and kind; nothing is written."""
    clients, links = _load(runtime, tenant_id, integration_id)
    counts: Counts = {}
    for link in links:
        for end in _ends(clients, link):
            found = inspect(end, str(integration_id))
            if found is not None:
                _add(counts, end.site, found.counts())
    return {"links": len(links), "counts": counts, "unreachable": _unreachable(clients)}


def _clean_link(
    runtime: Runtime, integration_id: uuid.UUID, clients: dict, link: dict[str, Any]
) -> None:
    """Remove one link's marks and record it done, with what it removed."""
    key = progress_key(integration_id)
    state = runtime.redis.hgetall(key)
    inflight = json.loads(state.get(b"inflight") or b"{}")
    found_now: Counts = {}
    work = []
    for end in _ends(clients, link):
        found = inspect(end, str(integration_id))
        if found is not None:
            _add(found_now, end.site, found.counts())
            work.append((end, found))
    # Counted before writing: a run killed mid-link counts, on resume, what it first found.
    counted = inflight["counts"] if inflight.get("link") == link["id"] else found_now
    runtime.redis.hset(key, "inflight", json.dumps({"link": link["id"], "counts": counted}))
    for end, found in work:
        remove(end, found)
    removed: Counts = json.loads(state.get(b"removed") or b"{}")
    for site, row in counted.items():
        _add(removed, site, row)
    pipe = runtime.redis.pipeline(transaction=True)
    pipe.sadd(_done_key(integration_id), link["id"])
    pipe.hset(key, mapping={"removed": json.dumps(removed)})
    pipe.hincrby(key, "done", 1)
    pipe.hdel(key, "inflight")
    pipe.execute()


def _audit(runtime: Runtime, tenant_id: uuid.UUID, actor: str, action: str, **details: Any) -> None:
    with runtime.db.tenant_session(tenant_id) as session:
        record_audit(session, tenant_id, actor, action, **details)


def _start(runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID, actor: str) -> None:
    """A fresh run: plan it, reset the progress, audit the start with the plan's counts."""
    plan = plan_cleanup(runtime, tenant_id, integration_id)
    key = progress_key(integration_id)
    pipe = runtime.redis.pipeline(transaction=True)
    pipe.delete(key, _done_key(integration_id))
    pipe.hset(
        key,
        mapping={
            "tenant": str(tenant_id),
            "status": "running",
            "total": plan["links"],
            "done": 0,
            "planned": json.dumps(plan["counts"]),
            "removed": "{}",
        },
    )
    pipe.expire(key, PROGRESS_TTL)
    pipe.execute()
    _audit(
        runtime,
        tenant_id,
        actor,
        "integration.cleanup_started",
        subject=str(integration_id),
        links=plan["links"],
        counts=plan["counts"],
        unreachable=plan["unreachable"],
    )


def run_cleanup(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    stop_after: int | None = None,
    actor: str = "system",
) -> dict:
    """Disable the integration and remove its marks; resumes an unfinished run.
    ``stop_after`` stops after that many links (the run then resumes on the next call)."""
    set_enabled(runtime, tenant_id, integration_id, False, actor)
    key = progress_key(integration_id)
    state = runtime.redis.hgetall(key)
    resuming = (
        state.get(b"status") in (b"running", b"stopped")
        and state.get(b"tenant") == str(tenant_id).encode()
    )
    if not resuming:
        _start(runtime, tenant_id, integration_id, actor)
    runtime.redis.hset(key, "status", "running")
    clients, links = _load(runtime, tenant_id, integration_id)
    done = {member.decode() for member in runtime.redis.smembers(_done_key(integration_id))}
    processed = 0
    for link in links:
        if link["id"] in done:
            continue
        if stop_after is not None and processed >= stop_after:
            runtime.redis.hset(key, "status", "stopped")
            return cleanup_result(runtime, integration_id)
        _clean_link(runtime, integration_id, clients, link)
        processed += 1
    runtime.redis.hset(key, "status", "finished")
    runtime.redis.expire(_done_key(integration_id), PROGRESS_TTL)
    result = cleanup_result(runtime, integration_id)
    _audit(
        runtime,
        tenant_id,
        actor,
        "integration.cleanup_finished",
        subject=str(integration_id),
        links=result["total"],
        counts=result["removed"],
        unreachable=_unreachable(clients),
    )
    return result


def cleanup_result(runtime: Runtime, integration_id: uuid.UUID | str) -> dict:
    """Progress plus the planned and removed counts."""
    state = runtime.redis.hgetall(progress_key(integration_id))
    return {
        **cleanup_progress(runtime, integration_id),
        "planned": json.loads(state.get(b"planned") or b"{}"),
        "removed": json.loads(state.get(b"removed") or b"{}"),
    }


def cleanup_progress(runtime: Runtime, integration_id: uuid.UUID | str) -> dict:
    """What a page polls: links done, total, and the run's status."""
    state = runtime.redis.hgetall(progress_key(integration_id))
    if not state:
        return {"done": 0, "total": 0, "status": "not_started"}
    return {
        "done": int(state.get(b"done", 0)),
        "total": int(state.get(b"total", 0)),
        "status": state[b"status"].decode(),
    }
