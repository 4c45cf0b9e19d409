"""The tamper-evident audit trail: rows are hash-chained per (tenant, UTC day), and
``flask audit verify`` names the first row that breaks a chain."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from app import create_app
from audit.verify import ChainReport, verify
from config import Settings
from devtools.fresh_db import ROOT, drop_database, recreate_database, with_database
from models import audit_chain
from models.audit import append_audit, record_audit
from models.db import Database, driver_url, make_engine
from runtime import Runtime

Tenants = Callable[..., uuid.UUID]
DETAILS = {"site": "https://zoë.example", "ratio": 0.1, "big": 1e20, "tiny": 1.5e-7, "neg": -0.0}


def _record(db: Database, tenant: uuid.UUID, count: int, prefix: str = "event") -> None:
    with db.tenant_session(tenant) as session:
        for number in range(count):
            record_audit(session, tenant, "admin", f"{prefix}.{number}", "subj", n=number)


def _ids(db: Database, tenant: uuid.UUID) -> list[int]:
    with db.tenant_session(tenant) as session:
        return list(
            session.execute(text("SELECT id FROM audit_events ORDER BY segment, id")).scalars()
        )


def _as_tenant(engine: Engine, tenant: uuid.UUID, sql: str, **params: object) -> None:
    """Run a statement with the tenant set (the owner and maintenance roles are under RLS)."""
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})
        connection.execute(text(sql), params)


def _database_of(url: str) -> str:
    return make_url(driver_url(url)).database or ""


def _database(settings: Settings) -> str:
    return _database_of(settings.database_owner_url)


def _role(url: str) -> str:
    return make_url(driver_url(url)).username or ""


def _report(runtime: Runtime, tenant: uuid.UUID) -> ChainReport:
    (report,) = verify(runtime.maintenance_engine(), tenant)
    return report


def test_a_chain_of_events_verifies_and_links_each_row_to_the_one_before(
    db: Database, runtime: Runtime, new_tenant: Tenants
) -> None:
    tenant = new_tenant()
    _record(db, tenant, 3)
    with db.tenant_session(tenant) as session:
        record_audit(session, tenant, "admin", "with.details", None, **DETAILS)
    _record(db, tenant, 1, "last")
    report = _report(runtime, tenant)
    assert report.ok and report.rows == 5 and report.days == 1, report.line()
    with db.tenant_session(tenant) as session:
        rows = session.execute(
            text("SELECT segment, prev_hash, row_hash, details FROM audit_events ORDER BY id")
        ).all()
    assert bytes(rows[0].prev_hash) == audit_chain.genesis_hash(tenant, rows[0].segment)
    for before, after in itertools.pairwise(rows):
        assert bytes(after.prev_hash) == bytes(before.row_hash)
    assert report.head == bytes(rows[-1].row_hash)
    assert rows[3].details["big"] == 10**20 and rows[3].details["site"] == DETAILS["site"]


def test_editing_one_rows_details_is_detected_and_names_that_row(
    db: Database, runtime: Runtime, owner_engine: Engine, new_tenant: Tenants
) -> None:
    tenant = new_tenant()
    _record(db, tenant, 4)
    ids = _ids(db, tenant)
    assert _report(runtime, tenant).ok
    _as_tenant(
        owner_engine,
        tenant,
        "UPDATE audit_events SET details = details || '{\"n\": 99}' WHERE id = :id",
        id=ids[2],
    )
    report = _report(runtime, tenant)
    assert (report.broken_id, report.reason.split(":")[0]) == (ids[2], "edited"), report.line()


def test_deleting_a_middle_row_is_detected_at_the_row_after_it(
    db: Database, runtime: Runtime, new_tenant: Tenants
) -> None:
    tenant = new_tenant()
    _record(db, tenant, 4)
    ids = _ids(db, tenant)
    # The maintenance role may delete audit rows (retention), so it is the realistic culprit.
    _as_tenant(
        runtime.maintenance_engine(), tenant, "DELETE FROM audit_events WHERE id = :id", id=ids[1]
    )
    report = _report(runtime, tenant)
    assert report.broken_id == ids[2], report.line()
    assert report.reason.startswith("removed before it"), report.line()


def test_deleting_a_days_first_row_is_detected(
    db: Database, runtime: Runtime, new_tenant: Tenants
) -> None:
    tenant = new_tenant()
    _record(db, tenant, 3)
    ids = _ids(db, tenant)
    _as_tenant(
        runtime.maintenance_engine(), tenant, "DELETE FROM audit_events WHERE id = :id", id=ids[0]
    )
    report = _report(runtime, tenant)
    assert report.broken_id == ids[1] and "first rows are missing" in report.reason, report.line()


def test_a_row_moved_to_the_end_is_reported_as_reordered(
    db: Database, runtime: Runtime, owner_engine: Engine, new_tenant: Tenants
) -> None:
    tenant = new_tenant()
    _record(db, tenant, 3)
    first, middle, last = _ids(db, tenant)
    _as_tenant(
        owner_engine,
        tenant,
        "WITH gone AS (DELETE FROM audit_events WHERE id = :id RETURNING *) "
        "INSERT INTO audit_events (tenant_id, occurred_at, actor, action, subject, details, "
        "prev_hash, row_hash) SELECT tenant_id, occurred_at, actor, action, subject, details, "
        "prev_hash, row_hash FROM gone",
        id=middle,
    )
    report = _report(runtime, tenant)
    assert report.broken_id == last, report.line()
    assert report.reason.startswith("reordered: it follows row ") and str(first) in report.reason


def test_dropping_the_earliest_whole_day_leaves_the_later_days_verifiable(
    db: Database, runtime: Runtime, new_tenant: Tenants
) -> None:
    tenant = new_tenant()
    today = datetime.now(UTC)
    with db.tenant_session(tenant) as session:
        for days_ago, count in ((3, 3), (2, 2)):
            for number in range(count):
                at = today - timedelta(days=days_ago, minutes=10 - number)
                append_audit(session, tenant, "clock", f"old.{number}", None, {}, occurred_at=at)
    _record(db, tenant, 2)
    report = _report(runtime, tenant)
    assert (report.ok, report.rows, report.days) == (True, 7, 3), report.line()
    oldest = (today - timedelta(days=3)).date()
    _as_tenant(
        runtime.maintenance_engine(),
        tenant,
        "DELETE FROM audit_events WHERE segment = :day",
        day=oldest,
    )
    report = _report(runtime, tenant)
    assert (report.ok, report.rows, report.days) == (True, 4, 2), report.line()


def test_concurrent_appends_for_one_tenant_form_one_unbroken_chain(
    db: Database, runtime: Runtime, new_tenant: Tenants
) -> None:
    tenant = new_tenant()
    threads, each = 6, 5
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            start.wait()
            for number in range(each):
                with db.tenant_session(tenant) as session:
                    record_audit(session, tenant, f"worker-{worker}", "tick", None, n=number)
                    time.sleep(0.005)  # hold the transaction open: a race would fork here
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    workers = [threading.Thread(target=append, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    report = _report(runtime, tenant)
    assert (report.ok, report.rows) == (True, threads * each), report.line()


def test_a_second_append_waits_for_the_first_transaction_to_end(
    db: Database, new_tenant: Tenants
) -> None:
    tenant = new_tenant()
    done = threading.Event()

    def second() -> None:
        _record(db, tenant, 1, "second")
        done.set()

    with db.tenant_session(tenant) as session:
        record_audit(session, tenant, "admin", "first")
        thread = threading.Thread(target=second)
        thread.start()
        assert not done.wait(0.5), "the second append did not wait for the tenant's lock"
    thread.join(timeout=10)
    assert done.is_set()


@pytest.fixture(scope="module")
def cli_app(settings: Settings):
    app = create_app(settings)
    yield app
    app.extensions["tandem"].close()


def test_the_cli_exits_zero_on_a_good_chain_and_non_zero_naming_the_broken_row(
    cli_app, db: Database, owner_engine: Engine, new_tenant: Tenants
) -> None:
    good, bad = new_tenant("Good"), new_tenant("Bad")
    _record(db, good, 3)
    _record(db, bad, 3)
    runner = cli_app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify", "--tenant", str(good)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{good} ok: 3 rows in 1 day, head ")

    target = _ids(db, bad)[1]
    _as_tenant(
        owner_engine, bad, "UPDATE audit_events SET actor = 'someone' WHERE id = :id", id=target
    )
    result = runner.invoke(args=["audit", "verify", "--tenant", str(bad)])
    assert result.exit_code == 1, result.output
    assert f"{bad} BROKEN at row {target}: edited" in result.output

    result = runner.invoke(args=["audit", "verify"])  # every tenant
    assert result.exit_code == 1, result.output
    assert f"{good} ok: 3 rows" in result.output and f"{bad} BROKEN" in result.output


def test_the_migration_chains_the_rows_written_before_it(settings: Settings) -> None:
    owner_url = with_database(settings.database_owner_url, f"{_database(settings)}_chain")
    maintenance_url = with_database(settings.database_maintenance_url, _database_of(owner_url))
    roles = [_role(settings.database_url), _role(settings.database_maintenance_url)]
    recreate_database(owner_url, *roles)
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes.update(url=owner_url, skip_logging=True)
    tenants = [uuid.uuid4(), uuid.uuid4()]
    owner, maintenance = make_engine(owner_url, 1), make_engine(maintenance_url, 1)
    try:
        command.upgrade(config, "0004")
        yesterday = datetime.now(UTC) - timedelta(days=1)
        for tenant in tenants:
            _as_tenant(owner, tenant, "INSERT INTO tenants (id, name) VALUES (:t, 'Old')", t=tenant)
            for number, at in enumerate((yesterday, yesterday, datetime.now(UTC))):
                _as_tenant(
                    owner,
                    tenant,
                    "INSERT INTO audit_events (tenant_id, occurred_at, actor, action, details) "
                    "VALUES (:t, :at, 'old', 'legacy', CAST(:d AS jsonb))",
                    t=tenant,
                    at=at,
                    d=f'{{"n": {number}, "x": 1e3}}',
                )
        command.upgrade(config, "head")
        reports = {report.tenant_id: report for report in verify(maintenance)}
        assert {t: (r.ok, r.rows, r.days) for t, r in reports.items()} == {
            tenant: (True, 3, 2) for tenant in tenants
        }
    finally:
        owner.dispose()
        maintenance.dispose()
        drop_database(owner_url)
