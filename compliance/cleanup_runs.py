"""The record of one clean-up run in Redis: what it covers, where it stands (links done of
the total, status), the marks it planned or removed per site and kind, the calls it made
per site, the sites it could not reach and the connections it disconnected. A page polls
``run_view``; the worker holding the run's lease is the only writer of its progress.

Keys (all expire 30 days after the last write):

- ``tandem:cleanup:run:<id>``: the hash below; ``…:done`` the set of finished links;
  ``…:planned`` / ``…:removed`` / ``…:calls`` counters ``"<site>|<kind>"`` / ``"<site>"``;
  ``…:errors`` the first links that failed; ``…:lease`` the running worker's lease.
- ``tandem:cleanup:active:<tenant>``: the tenant's unfinished run (one at a time).
- ``tandem:cleanup:plan:<tenant>:<scope>``: the newest finished dry run of that scope
  (a day), whose counts a real run shows as ``planned``.
- ``tandem:cleanup:runs``: every unfinished run, for the sweep that resumes killed ones.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.lock import Lock

from compliance.cleanup_markers import KINDS

PREFIX = "tandem:cleanup"
RUNS = f"{PREFIX}:runs"
TTL = 30 * 24 * 3600
PLAN_TTL = 24 * 3600
LEASE_SECONDS = 30
MAX_ERRORS = 20
FINAL = ("finished", "incomplete", "failed", "superseded")
Counts = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Scope:
    """What a run covers: one integration, or every integration of the workspace."""

    kind: str  # "integration" or "workspace"
    integration_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("integration", "workspace"):
            raise ValueError("scope must be 'integration' or 'workspace'")
        if (self.kind == "integration") != (self.integration_id is not None):
            raise ValueError("an integration scope names its integration, a workspace none")

    @property
    def key(self) -> str:
        return f"integration:{self.integration_id}" if self.integration_id else "workspace"


WORKSPACE = Scope("workspace")


@dataclass(frozen=True)
class RunSpec:
    """How a run was asked for; fixed for its life."""

    run_id: str
    tenant_id: uuid.UUID
    scope: Scope
    dry_run: bool
    actor: str
    cause: str = "admin"  # "admin" or "uninstall"
    skip_installations: bool = False  # after uninstall the installed site refuses us
    lease_seconds: int = LEASE_SECONDS


def run_key(run_id: str, part: str = "") -> str:
    """The run's hash, or one of its parts (done, planned, removed, calls, errors, lease)."""
    return f"{PREFIX}:run:{run_id}" + (f":{part}" if part else "")


def active_key(tenant_id: uuid.UUID) -> str:
    return f"{PREFIX}:active:{tenant_id}"


def plan_key(tenant_id: uuid.UUID, scope: Scope) -> str:
    return f"{PREFIX}:plan:{tenant_id}:{scope.key}"


def _all_keys(run_id: str) -> list[str]:
    return [run_key(run_id, part) for part in ("", "done", "planned", "removed", "calls", "errors")]


def _decode(raw: Mapping[bytes, bytes]) -> dict[str, str]:
    return {key.decode(): value.decode() for key, value in raw.items()}


def create_run(client: redis.Redis, spec: RunSpec, supersede: bool = False) -> str:
    """Store a new queued run and make it the tenant's active one; returns its id, or the
    id of the tenant's unfinished run if there is one (unless ``supersede``: that run is
    then marked superseded, and its worker stops at its next link)."""
    active = active_key(spec.tenant_id)
    if not client.set(active, spec.run_id, nx=True, ex=TTL):
        current = client.get(active)
        current_id = current.decode() if current else ""
        if not supersede and run_status(client, current_id) not in (None, *FINAL):
            return current_id
        if current_id:
            set_status(client, current_id, "superseded", superseded_by=spec.run_id)
        client.set(active, spec.run_id, ex=TTL)
    planned = "" if spec.dry_run else (client.get(plan_key(spec.tenant_id, spec.scope)) or b"")
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(
            run_key(spec.run_id),
            mapping={
                "tenant": str(spec.tenant_id),
                "scope": spec.scope.kind,
                "integration": str(spec.scope.integration_id or ""),
                "dry_run": int(spec.dry_run),
                "actor": spec.actor,
                "cause": spec.cause,
                "skip_installations": int(spec.skip_installations),
                "lease_seconds": spec.lease_seconds,
                "status": "queued",
                "total": 0,
                "attempts": 0,
                "failed": 0,
                "plan_run": planned.decode() if isinstance(planned, bytes) else planned,
                "unreachable": "[]",
                "disconnected": "[]",
                "created_at": int(time.time()),
            },
        )
        pipe.sadd(RUNS, spec.run_id)
        for key in _all_keys(spec.run_id):
            pipe.expire(key, TTL)
        pipe.execute()
    return spec.run_id


def load_spec(client: redis.Redis, run_id: str) -> RunSpec | None:
    """The run as it was asked for, or None if there is no such run."""
    raw = _decode(client.hgetall(run_key(run_id)))
    if not raw:
        return None
    integration = raw.get("integration") or None
    return RunSpec(
        run_id=run_id,
        tenant_id=uuid.UUID(raw["tenant"]),
        scope=Scope(raw["scope"], uuid.UUID(integration) if integration else None),
        dry_run=raw["dry_run"] == "1",
        actor=raw["actor"],
        cause=raw["cause"],
        skip_installations=raw["skip_installations"] == "1",
        lease_seconds=int(raw["lease_seconds"]),
    )


def run_status(client: redis.Redis, run_id: str) -> str | None:
    raw = client.hget(run_key(run_id), "status") if run_id else None
    return raw.decode() if raw else None


def set_status(client: redis.Redis, run_id: str, status: str, **fields: Any) -> None:
    """Set the run's status (and any other plain fields) and keep it for 30 days more."""
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(run_key(run_id), mapping={"status": status, **fields})
        for key in _all_keys(run_id):
            pipe.expire(key, TTL)
        pipe.execute()


def set_json(client: redis.Redis, run_id: str, field: str, value: Any) -> None:
    client.hset(run_key(run_id), field, json.dumps(value))


def get_json(client: redis.Redis, run_id: str, field: str, default: Any) -> Any:
    raw = client.hget(run_key(run_id), field)
    return json.loads(raw) if raw else default


def done_links(client: redis.Redis, run_id: str) -> set[str]:
    return {member.decode() for member in client.smembers(run_key(run_id, "done"))}


def record_link(
    client: redis.Redis,
    run_id: str,
    link_id: str,
    counts: Counts,
    calls: Mapping[str, int],
    dry_run: bool,
    error: str | None = None,
) -> None:
    """One link done, in one transaction: its counts (planned, or removed by a real run),
    the calls it made per site, and its error if it failed (then it counts nothing)."""
    field = "planned" if dry_run else "removed"
    with client.pipeline(transaction=True) as pipe:
        pipe.sadd(run_key(run_id, "done"), link_id)
        if error is None:
            for site, row in counts.items():
                for kind, count in row.items():
                    pipe.hincrby(run_key(run_id, field), f"{site}|{kind}", count)
        else:
            pipe.hincrby(run_key(run_id), "failed", 1)
            pipe.rpush(run_key(run_id, "errors"), json.dumps({"link": link_id, "error": error}))
            pipe.ltrim(run_key(run_id, "errors"), 0, MAX_ERRORS - 1)
        for site, count in calls.items():
            if count:
                pipe.hincrby(run_key(run_id, "calls"), site, count)
        pipe.hdel(run_key(run_id), "inflight")
        for key in _all_keys(run_id):
            pipe.expire(key, TTL)
        pipe.execute()


def counts_of(client: redis.Redis, run_id: str, field: str) -> Counts:
    """A counter hash as {site: {kind: n}} with every kind present."""
    counts: Counts = {}
    for key, value in _decode(client.hgetall(run_key(run_id, field))).items():
        site, _, kind = key.rpartition("|")
        counts.setdefault(site, dict.fromkeys(KINDS, 0))[kind] += int(value)
    return counts


def finish(client: redis.Redis, spec: RunSpec, status: str) -> None:
    """Mark the run final, release the tenant's active slot, and remember a dry run as the
    plan of its scope."""
    set_status(client, spec.run_id, status, finished_at=int(time.time()))
    client.srem(RUNS, spec.run_id)
    active = active_key(spec.tenant_id)
    current = client.get(active)
    if current is not None and current.decode() == spec.run_id:
        client.delete(active)
    if spec.dry_run and status == "finished":
        client.set(plan_key(spec.tenant_id, spec.scope), spec.run_id, ex=PLAN_TTL)


def lease(client: redis.Redis, run_id: str, seconds: int) -> Lock:
    """The lock a worker holds while it runs the run (renewed by a heartbeat); a run whose
    lease lapsed while it was unfinished was killed, and the sweep resumes it."""
    return client.lock(run_key(run_id, "lease"), timeout=seconds, thread_local=False)


def lease_held(client: redis.Redis, run_id: str) -> bool:
    return bool(client.exists(run_key(run_id, "lease")))


def unfinished_runs(client: redis.Redis) -> list[str]:
    return sorted(member.decode() for member in client.smembers(RUNS))


def forget(client: redis.Redis, run_id: str) -> None:
    """Drop a run id whose record expired from the unfinished set."""
    client.srem(RUNS, run_id)


def run_view(client: redis.Redis, run_id: str) -> dict[str, Any] | None:
    """What a page polls: status, links done of total, counts per site and kind."""
    raw = _decode(client.hgetall(run_key(run_id)))
    if not raw:
        return None
    planned_from = raw.get("plan_run") or ""
    planned = counts_of(client, run_id, "planned")
    if not planned and planned_from:
        planned = counts_of(client, planned_from, "planned")
    errors = [json.loads(item) for item in client.lrange(run_key(run_id, "errors"), 0, -1)]
    return {
        "run_id": run_id,
        "tenant": raw["tenant"],
        "scope": raw["scope"],
        "integration_id": raw.get("integration") or None,
        "dry_run": raw["dry_run"] == "1",
        "cause": raw["cause"],
        "status": raw["status"],
        "done": client.scard(run_key(run_id, "done")),
        "total": int(raw.get("total", 0)),
        "planned": planned,
        "planned_by": run_id if raw["dry_run"] == "1" else (planned_from or None),
        "removed": counts_of(client, run_id, "removed"),
        "failed": int(raw.get("failed", 0)),
        "errors": errors,
        "unreachable": json.loads(raw.get("unreachable") or "[]"),
        "disconnected": json.loads(raw.get("disconnected") or "[]"),
        "admin_action": raw.get("admin_action") or None,  # what only the admin can do
        "error": raw.get("error") or None,
        "calls": {
            site: int(n) for site, n in _decode(client.hgetall(run_key(run_id, "calls"))).items()
        },
        "attempts": int(raw.get("attempts", 0)),
        "created_at": int(raw.get("created_at", 0)),
        "started_at": int(raw["started_at"]) if raw.get("started_at") else None,
        "finished_at": int(raw["finished_at"]) if raw.get("finished_at") else None,
    }


def _calls(client: redis.Redis, run_id: str) -> dict[str, int]:
    return {site: int(n) for site, n in _decode(client.hgetall(run_key(run_id, "calls"))).items()}
