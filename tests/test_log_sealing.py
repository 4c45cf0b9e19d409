"""Sealed sync logs and kept raw Jira responses: with sealing on, an attempt's detailed
part is stored only sealed under the tenant's log key (one per tenant, created once even
by racing workers), opens for the tenant's own reader and export and nowhere else, and
dies with the workspace; a real sync keeps the raw bodies of the reads it made, sealed,
only while the workspace keeps raw responses, and retention purges them."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from compliance.deletion import delete_due_workspaces
from compliance.export import build_export
from compliance.retention import purge_expired, set_retention
from config import Settings
from keys.aead import InvalidCiphertext
from keys.data_keys import DataKeyGone, KeyService
from keys.envelope import SealContext
from keys.log_key import LOG_KEY_OWNER, ensure_log_key
from models.deletion_requests import schedule_deletion
from models.raw_responses import RawResponse, open_raw_response, store_raw_responses
from models.sync_attempts import SyncAttempt, attempt_details, details_context, record_attempt
from runtime import Runtime
from sync.job_logs import job_meter, keep_raw_responses
from tests.sync_world import World, sync_world


def _settings(runtime: Runtime, tenant: uuid.UUID, **settings: Any) -> None:
    """Change the workspace's settings and drop this process's cached policy (other
    processes follow within models.log_policy.POLICY_CACHE_SECONDS)."""
    with runtime.db.tenant_session(tenant) as session:
        set_retention(session, **settings)
    runtime.log_policies.forget(tenant)


def record_detailed_attempt(
    runtime: Runtime, tenant: uuid.UUID, key: str, marker: str, failed: bool
) -> None:
    """One attempt the reconcile's way, with ``marker`` in its details (and error)."""
    record_attempt(
        runtime.db,
        tenant,
        runtime.log_policies,
        issue_key=key,
        action="update",
        outcome="failed" if failed else "ok",
        error=f"Jira refused edit_issue (400): {marker}" if failed else None,
        details={"changed": ["summary"], "note": marker},
        duration_ms=7,
        api_calls=3,
    )


def _rows(runtime: Runtime, tenant: uuid.UUID) -> dict[str, SyncAttempt]:
    with runtime.db.tenant_session(tenant) as session:
        return {a.issue_key: a for a in session.execute(select(SyncAttempt)).scalars()}


def _opened(runtime: Runtime, tenant: uuid.UUID, attempt: SyncAttempt) -> tuple[Any, Any]:
    with runtime.db.tenant_session(tenant) as session:
        return attempt_details(session, runtime.keys, attempt)


def _as_tenant(connection: Any, tenant: uuid.UUID) -> None:
    connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})


def _table_text(owner: Engine, table: str, tenant: uuid.UUID) -> str:
    """Every column of the tenant's rows as the database holds them (bytea as hex)."""
    with owner.begin() as connection:
        _as_tenant(connection, tenant)
        return connection.execute(
            text(f"SELECT coalesce(string_agg(t::text, chr(10)), '') FROM {table} t")
        ).scalar_one()


def _absent(marker: str, stored: str) -> bool:
    forms = (marker, marker.encode().hex(), base64.b64encode(marker.encode()).decode())
    return not any(form in stored for form in forms)


def test_sealed_attempts_hold_no_plaintext_and_open_for_the_reader(
    runtime: Runtime, owner_engine: Engine, new_tenant
) -> None:
    tenant = new_tenant("sealed")
    _settings(runtime, tenant, seal_sync_logs=True, actor="admin")
    marker = uuid.uuid4().hex
    record_detailed_attempt(runtime, tenant, "S-1", marker + "-fail", failed=True)
    record_detailed_attempt(runtime, tenant, "S-2", marker + "-ok", failed=False)

    rows = _rows(runtime, tenant)
    for row in rows.values():
        assert (row.details, row.error) == ({}, None)
        assert row.sealed_details is not None and row.seal_id is not None
        assert (row.action, row.api_calls, row.duration_ms) == ("update", 3, 7)
    stored = _table_text(owner_engine, "sync_attempts", tenant)
    assert "S-1" in stored and "S-2" in stored, "the rows are in what was read"
    assert _absent(marker, stored), "plaintext of a sealed detail is in the table"
    assert _opened(runtime, tenant, rows["S-1"]) == (
        {"changed": ["summary"], "note": marker + "-fail"},
        f"Jira refused edit_issue (400): {marker}-fail",
    )
    assert _opened(runtime, tenant, rows["S-2"]) == (
        {"changed": ["summary"], "note": marker + "-ok"},
        None,
    )
    # Fresh keys (no cache): the log key unwraps from its row.
    with runtime.db.tenant_session(tenant) as session:
        cold = KeyService(runtime.keys.kek, cache_seconds=0)
        assert attempt_details(session, cold, rows["S-2"])[0]["note"] == marker + "-ok"
        owners = session.execute(text("SELECT owner_kind FROM data_keys")).scalars().all()
        audited = session.execute(
            text("SELECT details FROM audit_events WHERE action = 'retention.updated'")
        ).scalar_one()
    assert owners == [LOG_KEY_OWNER]
    assert audited == {"seal_sync_logs": True}
    # The tenant's export holds its own log readable, and no ciphertext.
    archive = build_export(runtime, tenant)
    exported = {row["issue_key"]: row for row in archive["data"]["sync_attempts"]}
    assert exported["S-1"]["error"] == f"Jira refused edit_issue (400): {marker}-fail"
    assert exported["S-2"]["details"]["note"] == marker + "-ok"
    assert "sealed_details" not in exported["S-1"]
    assert bytes(rows["S-1"].sealed_details).hex() not in json.dumps(archive)


def test_a_sealed_value_moved_to_another_row_table_or_tenant_fails_to_open(
    runtime: Runtime, owner_engine: Engine, new_tenant
) -> None:
    alpha, beta = new_tenant("alpha"), new_tenant("beta")
    for tenant in (alpha, beta):
        _settings(runtime, tenant, seal_sync_logs=True)
        record_detailed_attempt(runtime, tenant, "M-1", "first", failed=True)
        record_detailed_attempt(runtime, tenant, "M-2", "second", failed=False)
    a = _rows(runtime, alpha)
    b = _rows(runtime, beta)
    sealed = bytes(a["M-1"].sealed_details)

    def opens_as(tenant: uuid.UUID, seal_id: uuid.UUID, table: str = "sync_attempts") -> bool:
        context = SealContext(tenant, table, str(seal_id), "details")
        with runtime.db.tenant_session(tenant) as session:
            try:
                runtime.keys.open(session, sealed, context)
            except InvalidCiphertext:
                return False
        return True

    assert opens_as(alpha, a["M-1"].seal_id)
    assert not opens_as(alpha, a["M-2"].seal_id), "another row of the same tenant"
    assert not opens_as(alpha, uuid.uuid4()), "its seal_id changed"
    assert not opens_as(alpha, a["M-1"].seal_id, "raw_responses"), "another table"
    assert not opens_as(beta, b["M-1"].seal_id), "another tenant (its key is not visible)"
    # The same swap in the database: M-2 carries M-1's value under its own seal_id.
    with owner_engine.begin() as connection:
        _as_tenant(connection, alpha)
        connection.execute(
            text("UPDATE sync_attempts SET sealed_details = :v WHERE issue_key = 'M-2'"),
            {"v": sealed},
        )
    with pytest.raises(InvalidCiphertext):
        _opened(runtime, alpha, _rows(runtime, alpha)["M-2"])
    assert _opened(runtime, beta, b["M-2"])[0]["note"] == "second", "beta is untouched"


def test_switching_sealing_on_and_off_takes_effect_and_never_stores_plaintext_late(
    runtime: Runtime, owner_engine: Engine, new_tenant
) -> None:
    tenant = new_tenant("switch")
    marker = uuid.uuid4().hex
    _settings(runtime, tenant, seal_sync_logs=True)
    record_detailed_attempt(runtime, tenant, "W-1", marker + "-sealed", failed=True)
    _settings(runtime, tenant, seal_sync_logs=False)
    record_detailed_attempt(runtime, tenant, "W-2", marker + "-plain", failed=True)
    rows = _rows(runtime, tenant)
    assert rows["W-1"].sealed_details is not None and rows["W-1"].error is None
    assert rows["W-2"].sealed_details is None and marker + "-plain" in rows["W-2"].error
    assert rows["W-2"].details["note"] == marker + "-plain"
    assert _opened(runtime, tenant, rows["W-1"])[0]["note"] == marker + "-sealed"
    assert _opened(runtime, tenant, rows["W-2"])[0]["note"] == marker + "-plain"

    # Sealing switched on while this process still has "off" cached: the INSERT sees the
    # switch and drops the plaintext (the minimal row stays); never plaintext at rest.
    assert runtime.log_policies.get(tenant).seal_logs is False  # cached
    with runtime.db.tenant_session(tenant) as session:
        set_retention(session, seal_sync_logs=True)
    record_detailed_attempt(runtime, tenant, "W-3", marker + "-late", failed=True)
    late = _rows(runtime, tenant)["W-3"]
    assert (late.details, late.error, late.sealed_details, late.api_calls) == ({}, None, None, 3)
    assert _absent(marker + "-late", _table_text(owner_engine, "sync_attempts", tenant))
    runtime.log_policies.forget(tenant)
    record_detailed_attempt(runtime, tenant, "W-4", marker + "-now", failed=True)
    assert _opened(runtime, tenant, _rows(runtime, tenant)["W-4"])[0]["note"] == marker + "-now"

    # Logs switched off: nothing detailed is kept, sealed or not, even with "on" cached.
    with runtime.db.tenant_session(tenant) as session:
        set_retention(session, sync_logs_enabled=False)
    record_detailed_attempt(runtime, tenant, "W-5", marker + "-off", failed=True)
    off = _rows(runtime, tenant)["W-5"]
    assert (off.details, off.error, off.sealed_details, off.seal_id) == ({}, None, None, None)


def test_racing_workers_create_one_log_key(
    runtime: Runtime, owner_engine: Engine, new_tenant
) -> None:
    tenant = new_tenant("race")
    found: list[uuid.UUID] = []

    def second_worker() -> None:
        with runtime.db.tenant_session(tenant) as session:
            found.append(ensure_log_key(session, runtime.keys))

    with runtime.db.tenant_session(tenant) as first:
        first_id = ensure_log_key(first, runtime.keys)  # created, not yet committed
        worker = threading.Thread(target=second_worker)
        worker.start()
        # The second worker saw no committed key and its INSERT now waits on the index.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with owner_engine.connect() as connection:
                waiting = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                        "WHERE NOT l.granted AND a.datname = current_database()"
                    )
                ).scalar_one()
            if waiting:
                break
            time.sleep(0.02)
        assert waiting, "the second worker never waited on the first one's key"
    worker.join(10)
    assert found == [first_id]
    with runtime.db.tenant_session(tenant) as session:
        logs = session.execute(
            text("SELECT id FROM data_keys WHERE owner_kind = :k"), {"k": LOG_KEY_OWNER}
        ).scalars()
        assert list(logs) == [first_id]


def test_deleting_the_workspace_destroys_the_log_key(
    runtime: Runtime, owner_engine: Engine, new_tenant
) -> None:
    doomed, kept = new_tenant("doomed-log"), new_tenant("kept-log")
    for tenant in (doomed, kept):
        _settings(runtime, tenant, seal_sync_logs=True)
        record_detailed_attempt(runtime, tenant, "D-1", "before deletion", failed=True)
    before = _rows(runtime, doomed)["D-1"]
    backup = (bytes(before.sealed_details), details_context(doomed, before.seal_id))
    key_id = runtime.log_policies.get(doomed).log_key_id
    assert key_id is not None and runtime.keys.cache.get(key_id) is not None
    with runtime.db.tenant_session(doomed) as session:
        schedule_deletion(session, reason="test")

    assert delete_due_workspaces(runtime, now=datetime.now(UTC) + timedelta(days=8)) >= 1

    with owner_engine.begin() as connection:
        _as_tenant(connection, doomed)
        assert connection.execute(text("SELECT count(*) FROM data_keys")).scalar_one() == 0
    for keys in (runtime.keys, KeyService(runtime.keys.kek, cache_seconds=0)):
        with runtime.db.tenant_session(doomed) as session:
            with pytest.raises(DataKeyGone):
                keys.open(session, *backup)
    survivor = _rows(runtime, kept)["D-1"]
    assert _opened(runtime, kept, survivor)[0]["note"] == "before deletion"


def test_with_warm_caches_a_sealed_attempt_is_one_statement_and_raw_bodies_one_more(
    runtime: Runtime, owner_engine: Engine, new_tenant
) -> None:
    tenant = new_tenant("cost")
    _settings(runtime, tenant, seal_sync_logs=True, raw_response_days=7)
    record_detailed_attempt(runtime, tenant, "C-0", "warm-up", failed=False)  # loads policy and key
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", seen)
    try:
        record_detailed_attempt(runtime, tenant, "C-1", "counted", failed=True)
        assert len(statements) == 1 and "INSERT INTO sync_attempts" in statements[0]
        statements.clear()
        meter = job_meter(runtime, tenant)
        assert meter.raw is not None
        meter.raw.bodies += [("GET /rest/api/3/issue/1", b"{}"), ("GET /rest/api/3/x", b"[]")]
        keep_raw_responses(runtime, tenant, meter)
        # No ORM statement at all: the bodies went in one Database.tenant_statement.
        assert statements == []
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", seen)
    assert _raw_count(owner_engine, tenant) == 2
    assert _opened(runtime, tenant, _rows(runtime, tenant)["C-1"])[0]["note"] == "counted"


def test_a_window_set_to_zero_holds_even_where_the_old_policy_is_cached(
    runtime: Runtime, owner_engine: Engine, new_tenant
) -> None:
    tenant = new_tenant("stale")
    _settings(runtime, tenant, raw_response_days=7)
    policy = runtime.log_policies.get(tenant)
    assert policy.keeps_raw_responses and policy.log_key_id is not None
    with runtime.db.tenant_session(tenant) as session:
        set_retention(session, raw_response_days=0)  # this process still has 7 cached
    store_raw_responses(
        runtime.db, runtime.keys, tenant, policy.log_key_id, [("GET /rest/api/3/myself", b"{}")]
    )
    assert _raw_count(owner_engine, tenant) == 0


# --- raw responses, through a real sync --------------------------------------------------

ONE_WAY = {
    "name": "ALP to ALPR (raw)",
    "direction": "one_way",
    "fields": ["summary", "description", "comments"],
}


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    with sync_world(settings, runtime, "io.tandem.log-sealing", ONE_WAY) as built:
        yield built


def _raw(world: World) -> list[RawResponse]:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return list(session.execute(select(RawResponse).order_by(RawResponse.id)).scalars())


def test_no_raw_response_is_kept_when_the_window_is_zero(world: World) -> None:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        ensure_log_key(session, world.runtime.keys)  # a key to keep them with is there
    _settings(world.runtime, world.tenant_id, raw_response_days=0)
    before = len(_raw(world))
    created = world.control("POST", "/issues", project="ALP", summary="Nothing kept")
    world.settle()
    (attempt,) = world.attempts(created["key"])
    assert attempt.outcome == "ok" and attempt.details["calls"]["get_issue"] >= 1
    assert len(_raw(world)) == before


def test_read_responses_are_kept_sealed_and_purged_past_the_window(
    world: World, owner_engine: Engine, new_tenant
) -> None:
    runtime, tenant = world.runtime, world.tenant_id
    bystander = new_tenant("bystander")
    with runtime.db.tenant_session(bystander) as session:
        ensure_log_key(session, runtime.keys)
    _settings(runtime, tenant, raw_response_days=7)
    known = {row.id for row in _raw(world)}
    marker = uuid.uuid4().hex
    created = world.control("POST", "/issues", project="ALP", summary=f"Kept {marker}")
    world.settle()
    (attempt,) = world.attempts(created["key"])
    assert attempt.outcome == "ok"

    kept = [row for row in _raw(world) if row.id not in known]
    sources = {row.source for row in kept}
    assert f"GET /rest/api/3/issue/{created['id']}" in sources, sources
    assert all(source.split(" ")[0] in ("GET", "POST") for source in sources)
    assert not any("?" in source for source in sources), "never a query string"
    assert not any("create_issue" in s or s.startswith("PUT") for s in sources)
    assert len(kept) <= attempt.api_calls
    stored = _table_text(owner_engine, "raw_responses", tenant)
    assert _absent(marker, stored), "a raw body is in the table in plaintext"
    with runtime.db.tenant_session(tenant) as session:
        bodies = [json.loads(open_raw_response(session, runtime.keys, row)) for row in kept]
        (log_key,) = session.execute(
            text("SELECT id FROM data_keys WHERE owner_kind = 'tenant_log'")
        ).scalars()
    assert {row.data_key_id for row in kept} == {log_key}
    read = [body for body in bodies if body.get("key") == created["key"]]
    assert read and read[0]["fields"]["summary"] == f"Kept {marker}"
    # A body moved to another row does not open.
    with runtime.db.tenant_session(tenant) as session:
        moved = RawResponse(
            tenant_id=tenant, data_key_id=log_key, seal_id=uuid.uuid4(), body=kept[0].body
        )
        with pytest.raises(InvalidCiphertext):
            open_raw_response(session, runtime.keys, moved)
    assert _raw_count(owner_engine, bystander) == 0, "another tenant keeps nothing of it"

    # Past the 7-day window the purge removes them (and only them).
    with owner_engine.begin() as connection:
        _as_tenant(connection, tenant)
        connection.execute(
            text(
                "UPDATE raw_responses SET created_at = now() - interval '8 days' WHERE id = ANY(:i)"
            ),
            {"i": [row.id for row in kept]},
        )
    removed = purge_expired(runtime)
    assert removed[str(tenant)]["raw_responses"] == len(kept)
    assert not {row.id for row in kept} & {row.id for row in _raw(world)}
    assert str(bystander) not in removed


def _raw_count(owner: Engine, tenant: uuid.UUID) -> int:
    with owner.begin() as connection:
        _as_tenant(connection, tenant)
        return connection.execute(text("SELECT count(*) FROM raw_responses")).scalar_one()
