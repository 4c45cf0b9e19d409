"""RLS overhead: the product's transaction shapes with and without Row-Level Security.

Over 1,000 tenants x 1,000 audit rows (database ``tandem_bench``, kept between runs),
each shape runs a batch of transactions on two sides per round, interleaved: as the app
role through ``Database.tenant_session`` (tenant set per transaction, RLS on ``public``),
and as the owner on schema ``norls`` (same rows and indexes, no RLS) through an identical
plain session. Both sides run the same SQL text, with the explicit ``tenant_id`` filter
product code writes, over the same random tenants. Writes are committed, as in the product.

Shapes: ``webhook`` is the inbox insert of ``sync.inbox`` (one row); ``sync`` reads
the installation, connection and their data keys, updates the connection and appends an
audit row; ``page`` lists a tenant's 50 most recent audit rows joined with its installation.

A batch is split into ``--slices`` parts run ABBA, and the side going first alternates by
round; ``--slices 1`` runs each batch whole on one side, then on the other.

Usage: ``python bench/rls_overhead.py [--rounds 7] [--batch 300] [--slices 6] [--reload]
[--explain]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import gc
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bench import dataset
from bench.common import (
    BENCH_DATABASE,
    BenchUrls,
    bench_main,
    bench_urls,
    database_exists,
    figure,
    median,
    note,
    owner_engine,
    rebuild_database,
    server_version,
)
from models.audit import append_audit
from models.db import Database, make_engine, transaction_scope

GOAL = 1.15
SIDES = {
    "rls": "app role, public tables (RLS), Database.tenant_session: set_config per transaction",
    "norls": "owner role, schema norls (same rows and indexes, no RLS), plain Session",
}
MIN_ROUNDS = 5
WARMUP = 100
SEED = 7

# The single-row form of the inbox insert of sync.inbox (with the tenant as :t).
WEBHOOK_INSERT = text(
    "INSERT INTO webhook_events (id, tenant_id, installation_id, identifier, event, "
    "payload) VALUES (:id, :t, :installation, :identifier, :event, "
    "CAST(:payload AS jsonb)) ON CONFLICT (tenant_id, identifier) DO NOTHING "
    "RETURNING id"
)
SYNC_INSTALLATION = text(
    "SELECT id, client_key, base_url, status, data_key_id, shared_secret "
    "FROM installations WHERE tenant_id = :t"
)
SYNC_CONNECTION = text(
    "SELECT id, installation_id, cloud_id, site_url, data_key_id, access_token, refresh_token, "
    "token_expires_at FROM connections WHERE tenant_id = :t AND status = 'active'"
)
SYNC_KEYS = text(
    "SELECT id, kek_id, wrapped FROM data_keys "
    "WHERE tenant_id = :t AND id IN (:installation_key, :connection_key)"
)
SYNC_UPDATE = text(
    "UPDATE connections SET token_expires_at = :expires, updated_at = now() "
    "WHERE tenant_id = :t AND id = :connection"
)
PAGE_SELECT = text(
    "SELECT e.id, e.occurred_at, e.actor, e.action, e.subject, e.details, i.base_url, i.status "
    "FROM audit_events e JOIN installations i ON i.tenant_id = e.tenant_id "
    "WHERE e.tenant_id = :t ORDER BY e.occurred_at DESC LIMIT 50"
)


@dataclass(frozen=True)
class Job:
    """One transaction's inputs, prepared before timing so both sides get the same."""

    tenant_id: uuid.UUID
    installation_id: uuid.UUID
    event_id: uuid.UUID
    identifier: str
    payload: str
    subject: str
    details: str
    expires: datetime


Sessions = Callable[[uuid.UUID], AbstractContextManager[Session]]
Shape = Callable[[Session, Job], object]


def webhook(session: Session, job: Job) -> object:
    """A webhook's insert: the inbox row, as ``sync.inbox.record_webhook`` writes it."""
    params = {"id": job.event_id, "t": job.tenant_id, "installation": job.installation_id}
    params |= {"identifier": job.identifier, "event": "jira:issue_updated"}
    return session.execute(WEBHOOK_INSERT, params | {"payload": job.payload}).scalar_one()


def sync(session: Session, job: Job) -> object:
    """A sync job: read installation, connection and their keys; refresh; audit."""
    t = job.tenant_id
    installation = session.execute(SYNC_INSTALLATION, {"t": t}).one()
    connection = session.execute(SYNC_CONNECTION, {"t": t}).one()
    keys = {"installation_key": installation.data_key_id, "connection_key": connection.data_key_id}
    found = session.execute(SYNC_KEYS, {"t": t, **keys}).all()
    session.execute(SYNC_UPDATE, {"t": t, "expires": job.expires, "connection": connection.id})
    details = json.loads(job.details)
    append_audit(session, t, "system", "token.refreshed", job.subject, details)
    return len(found)


def page(session: Session, job: Job) -> object:
    """A page: the tenant's 50 most recent audit rows joined with its installation."""
    return len(session.execute(PAGE_SELECT, {"t": job.tenant_id}).all())


SHAPES: dict[str, Shape] = {"webhook": webhook, "sync": sync, "page": page}


class PlainSessions:
    """Sessions like ``Database.tenant_session`` minus the tenant binding (the baseline)."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, class_=Session, expire_on_commit=False)

    @contextmanager
    def session(self, tenant_id: uuid.UUID) -> Iterator[Session]:
        """Commit on success, roll back on error, like the tenant session."""
        with transaction_scope(self._sessions(info={"tenant_id": tenant_id})) as session:
            yield session


@dataclass
class Side:
    """One way of running the shapes: its sessions and its timings per shape."""

    name: str
    sessions: Sessions
    seconds: dict[str, list[float]] = field(default_factory=dict)


Tenants = list[tuple[uuid.UUID, uuid.UUID]]


def make_job(rng: random.Random, tenants: Tenants, now: datetime) -> Job:
    """One transaction's inputs for a random tenant."""
    tenant_id, installation_id = rng.choice(tenants)
    issue = f"P{rng.randint(1, 96)}-{rng.randint(1, 9000)}"
    payload = dataset.webhook_payload(rng, issue)
    details = {"issue": issue, "expires_in": 3600, "request_id": rng.randbytes(8).hex()}
    return Job(
        tenant_id=tenant_id,
        installation_id=installation_id,
        event_id=uuid.uuid4(),
        identifier=str(uuid.uuid4()),
        payload=json.dumps(payload, separators=(",", ":")),
        subject=issue,
        details=json.dumps(details),
        expires=now + timedelta(seconds=rng.randint(1800, 3600)),
    )


def make_jobs(rng: random.Random, tenants: Tenants, count: int) -> list[Job]:
    """``count`` transactions over random tenants."""
    now = datetime.now(UTC)
    return [make_job(rng, tenants, now) for _ in range(count)]


def run_batch(sessions: Sessions, shape: Shape, jobs: list[Job]) -> float:
    """Seconds to run every job as its own committed transaction."""
    gc.collect()
    start = time.perf_counter()
    for job in jobs:
        with sessions(job.tenant_id) as session:
            shape(session, job)
    return time.perf_counter() - start


def warm_up(sides: list[Side], tenants: Tenants) -> None:
    """Fill pools, caches and plans on both sides before anything is timed."""
    jobs = make_jobs(random.Random(SEED - 1), tenants, WARMUP)
    for shape in SHAPES.values():
        for side in sides:
            run_batch(side.sessions, shape, jobs)


def run_interleaved(order: list[Side], name: str, jobs: list[Job], slices: int) -> None:
    """Shape ``name`` over the same jobs on both sides, in ``slices`` parts taken in ABBA
    order, so a disturbance during the batch hits both sides alike."""
    shape = SHAPES[name]
    size = -(-len(jobs) // slices)
    totals = dict.fromkeys(range(len(order)), 0.0)
    for index in range(slices):
        part = jobs[index * size : (index + 1) * size]
        for position in (0, 1) if index % 2 == 0 else (1, 0):
            totals[position] += run_batch(order[position].sessions, shape, part)
    for position, side in enumerate(order):
        side.seconds.setdefault(name, []).append(totals[position])


def measure(sides: list[Side], tenants: Tenants, rounds: int, batch: int, slices: int) -> None:
    """Every round, every shape: the same batch on both sides; who goes first alternates."""
    rng = random.Random(SEED)
    for number in range(rounds):
        order = sides if number % 2 == 0 else sides[::-1]
        for name in SHAPES:
            run_interleaved(order, name, make_jobs(rng, tenants, batch), slices)
        note(f"round {number + 1}/{rounds} done")


def summarize(rls: Side, norls: Side, batch: int) -> dict[str, Any]:
    """Per-shape ratios (median over rounds) and the overall median of all round ratios."""
    shapes: dict[str, Any] = {}
    every_ratio: list[float] = []
    for name in SHAPES:
        ratios = [a / b for a, b in zip(rls.seconds[name], norls.seconds[name], strict=True)]
        every_ratio.extend(ratios)
        shapes[name] = {
            "ratio": median(ratios),
            "round_ratios": [round(r, 4) for r in ratios],
            "rls_us": median(rls.seconds[name]) / batch * 1e6,
            "norls_us": median(norls.seconds[name]) / batch * 1e6,
            "rls_us_rounds": [round(s / batch * 1e6, 1) for s in rls.seconds[name]],
            "norls_us_rounds": [round(s / batch * 1e6, 1) for s in norls.seconds[name]],
        }
    return {"ratio": median(every_ratio), "shapes": shapes}


def explain(sides: list[Side], tenant_id: uuid.UUID) -> None:
    """Print EXPLAIN (ANALYZE, BUFFERS) of the read statements on both sides."""
    reads = {"page": PAGE_SELECT, "installation": SYNC_INSTALLATION, "connection": SYNC_CONNECTION}
    for side in sides:
        for name, statement in reads.items():
            with side.sessions(tenant_id) as session:
                plan = session.execute(
                    text("EXPLAIN (ANALYZE, BUFFERS) " + statement.text), {"t": tenant_id}
                ).scalars()
                print(f"-- {side.name} {name}\n" + "\n".join(plan), file=sys.stderr)


def prepare(urls: BenchUrls, reload: bool) -> Engine:
    """The owner engine of a loaded, verified and freshly vacuumed bench database."""
    engine = owner_engine(urls)
    if reload or not database_exists(urls) or not dataset.is_loaded(engine):
        engine.dispose()
        note(f"building database {BENCH_DATABASE}")
        rebuild_database(urls)
        engine = owner_engine(urls)
        dataset.load(engine)
    else:
        note(f"reusing database {BENCH_DATABASE}")
        removed = dataset.purge_bench_rows(engine)
        dataset.vacuum_analyze(engine)
        note(f"purged {removed} rows of earlier runs")
    dataset.verify_rls(engine)
    return engine


def report(summary: dict[str, Any]) -> None:
    """One figure per line."""
    for name, shape in summary["shapes"].items():
        figure(f"rls_overhead.{name}.rls_us", shape["rls_us"])
        figure(f"rls_overhead.{name}.norls_us", shape["norls_us"])
        figure(f"rls_overhead.{name}.ratio", shape["ratio"])
    figure("rls_overhead.ratio", summary["ratio"])
    print(f"goal ratio <= {GOAL}: {'met' if summary['ratio'] <= GOAL else 'missed'}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (at least 5)")
    parser.add_argument("--batch", type=int, default=300, help="transactions per batch")
    parser.add_argument(
        "--slices", type=int, default=6, help="parts each batch is split into, run ABBA"
    )
    parser.add_argument("--reload", action="store_true", help="rebuild the bench database")
    parser.add_argument("--explain", action="store_true", help="print read plans to stderr")
    args = parser.parse_args(argv)
    if args.rounds < MIN_ROUNDS or args.batch < 1 or not 1 <= args.slices <= args.batch:
        parser.error(f"need --rounds >= {MIN_ROUNDS}, --batch >= 1, 1 <= --slices <= --batch")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare, measure and summarize; returns the result document."""
    started = time.perf_counter()
    urls = bench_urls()
    owner = prepare(urls, args.reload)
    tenants = dataset.tenant_installations(owner)
    app_db = Database(make_engine(urls.app, pool_size=2))
    baseline = make_engine(urls.owner, pool_size=2, connect_args={"options": "-csearch_path=norls"})
    sides = [Side("rls", app_db.tenant_session), Side("norls", PlainSessions(baseline).session)]
    try:
        if args.explain:
            explain(sides, tenants[0][0])
        measured_at = time.perf_counter()
        warm_up(sides, tenants)
        measure(sides, tenants, args.rounds, args.batch, args.slices)
        summary = summarize(sides[0], sides[1], args.batch)
        summary |= {
            "goal": GOAL,
            "goal_met": summary["ratio"] <= GOAL,
            "rounds": args.rounds,
            "batch": args.batch,
            "slices": args.slices,
            "tenants": len(tenants),
            "rows_per_tenant": dataset.ROWS_PER_TENANT,
            "database": BENCH_DATABASE,
            "sides": SIDES,
            "postgres": server_version(owner),
            "measure_seconds": round(time.perf_counter() - measured_at, 1),
            "total_seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        app_db.dispose()
        baseline.dispose()
        owner.dispose()
    return summary


def main(argv: list[str] | None = None) -> int:
    return bench_main("rls_overhead", parse_args, run, report, argv)


if __name__ == "__main__":
    sys.exit(main())
