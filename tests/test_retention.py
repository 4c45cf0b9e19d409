"""Compliance: retention windows within the platform maxima, and the daily purge that
removes what is past them (raw responses, sync-log details, handled webhook payloads)
and touches nothing inside them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from compliance.retention import (
    RetentionError,
    RetentionSettings,
    get_retention,
    purge_expired,
    set_retention,
)
from models.installations import create_installation
from models.raw_responses import RawResponse
from models.sync_attempts import SyncAttempt, attempt_details, record_attempt
from models.webhook_events import WebhookEvent
from runtime import Runtime
from tests.test_log_sealing import record_detailed_attempt

NOW = datetime.now(UTC).replace(microsecond=0)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def _workspace(runtime: Runtime, new_tenant, **settings: Any) -> tuple[uuid.UUID, Any]:
    """A tenant with one installation (for its data key), with the given settings."""
    tenant = new_tenant("retention")
    with runtime.db.tenant_session(tenant) as session:
        installation = create_installation(
            session, runtime.keys, f"ck-{uuid.uuid4()}", "https://r.atlassian.net", "s3cret"
        )
        if settings:
            set_retention(session, **settings)
        return tenant, (installation.id, installation.data_key_id)


def _add_rows(runtime: Runtime, tenant: uuid.UUID, ids: Any, at: datetime, tag: str) -> None:
    """One raw response, one detailed attempt and processed/pending webhooks at ``at``."""
    installation_id, key_id = ids
    with runtime.db.tenant_session(tenant) as session:
        session.add(
            RawResponse(tenant_id=tenant, data_key_id=key_id, source=tag, body=b"x", created_at=at)
        )
        session.add(
            SyncAttempt(
                tenant_id=tenant,
                issue_key=tag,
                action="update",
                outcome="failed",
                error="boom " + tag,
                details={"changed": ["summary"]},
                duration_ms=3,
                api_calls=2,
                created_at=at,
            )
        )
        for status in ("processed", "skipped", "pending", "failed"):
            session.add(
                WebhookEvent(
                    tenant_id=tenant,
                    installation_id=installation_id,
                    identifier=f"{tag}-{status}-{uuid.uuid4()}",
                    event="jira:issue_updated",
                    payload={"tag": tag},
                    status=status,
                    received_at=at,
                )
            )


def _state(runtime: Runtime, tenant: uuid.UUID) -> dict[str, Any]:
    """What the tenant holds, per kind of row, by tag."""
    with runtime.db.tenant_session(tenant) as session:
        raw = sorted(session.execute(text("SELECT source FROM raw_responses")).scalars())
        attempts = {
            row.issue_key: (row.action, row.outcome, row.api_calls, row.error, row.details)
            for row in session.execute(
                text(
                    "SELECT issue_key, action, outcome, api_calls, error, details"
                    " FROM sync_attempts"
                )
            )
        }
        hooks = sorted(
            f"{tag}:{status}"
            for tag, status in session.execute(
                text("SELECT payload->>'tag', status FROM webhook_events")
            )
        )
    return {"raw": raw, "attempts": attempts, "hooks": hooks}


def _purged_events(runtime: Runtime, tenant: uuid.UUID) -> list[dict[str, Any]]:
    with runtime.db.tenant_session(tenant) as session:
        return list(
            session.execute(
                text(
                    "SELECT details FROM audit_events WHERE action = 'retention.purged' ORDER BY id"
                )
            ).scalars()
        )


def test_rows_past_the_default_windows_are_purged_and_rows_inside_are_untouched(
    runtime: Runtime, new_tenant
) -> None:
    tenant, ids = _workspace(runtime, new_tenant)
    _add_rows(runtime, tenant, ids, NOW - 30 * DAY - MINUTE, "raw-out")
    _add_rows(runtime, tenant, ids, NOW - 30 * DAY + MINUTE, "raw-in")
    _add_rows(runtime, tenant, ids, NOW - 90 * DAY - MINUTE, "log-out")
    _add_rows(runtime, tenant, ids, NOW - 90 * DAY + MINUTE, "log-in")
    start = _state(runtime, tenant)

    # An hour earlier only the 90-day-old raw responses are past their window.
    early = purge_expired(runtime, now=NOW - timedelta(hours=1))
    assert early[str(tenant)] == {"raw_responses": 2, "sync_attempts": 0, "webhook_events": 0}
    before = _state(runtime, tenant)
    assert before == {**start, "raw": ["raw-in", "raw-out"]}

    result = purge_expired(runtime, now=NOW)
    assert result[str(tenant)] == {"raw_responses": 1, "sync_attempts": 1, "webhook_events": 2}
    after = _state(runtime, tenant)
    assert after["raw"] == ["raw-in"]
    kept = before["attempts"]
    assert after["attempts"]["log-out"] == ("update", "failed", 2, None, {})  # minimal row
    for tag in ("raw-out", "raw-in", "log-in"):
        assert after["attempts"][tag] == kept[tag]
        assert kept[tag][3:] == ("boom " + tag, {"changed": ["summary"]})
    gone = {"log-out:processed", "log-out:skipped"}
    assert set(before["hooks"]) - set(after["hooks"]) == gone
    assert "log-out:pending" in after["hooks"] and "log-out:failed" in after["hooks"]
    events = [{"rows": early[str(tenant)]}, {"rows": result[str(tenant)]}]
    assert _purged_events(runtime, tenant) == events

    # Idempotent: a second run at the same time removes nothing and audits nothing.
    assert str(tenant) not in purge_expired(runtime, now=NOW)
    assert _state(runtime, tenant) == after
    assert _purged_events(runtime, tenant) == events


def test_shorter_windows_purge_sooner_and_leave_other_tenants_alone(
    runtime: Runtime, new_tenant
) -> None:
    short, short_ids = _workspace(runtime, new_tenant, raw_response_days=7, sync_log_days=10)
    none_kept, none_ids = _workspace(runtime, new_tenant, raw_response_days=0)
    other, other_ids = _workspace(runtime, new_tenant)
    for tenant, ids in ((short, short_ids), (none_kept, none_ids), (other, other_ids)):
        _add_rows(runtime, tenant, ids, NOW - 11 * DAY, "old")
        _add_rows(runtime, tenant, ids, NOW - 6 * DAY, "recent")
    other_before = _state(runtime, other)
    none_before = _state(runtime, none_kept)

    result = purge_expired(runtime, now=NOW)

    assert result[str(short)] == {"raw_responses": 1, "sync_attempts": 1, "webhook_events": 2}
    short_after = _state(runtime, short)
    assert short_after["raw"] == ["recent"]
    assert short_after["attempts"]["old"][3:] == (None, {})
    assert short_after["attempts"]["recent"][3] == "boom recent"
    assert result[str(none_kept)] == {"raw_responses": 2, "sync_attempts": 0, "webhook_events": 0}
    assert _state(runtime, none_kept) == {**none_before, "raw": []}
    assert str(other) not in result
    assert _state(runtime, other) == other_before


def test_switched_off_logs_keep_the_minimal_attempt_row_only(runtime: Runtime, new_tenant) -> None:
    quiet, quiet_ids = _workspace(runtime, new_tenant)
    loud, _ = _workspace(runtime, new_tenant)
    _add_rows(runtime, quiet, quiet_ids, NOW - MINUTE, "earlier")
    with runtime.db.tenant_session(quiet) as session:
        settings = set_retention(session, sync_logs_enabled=False, actor="admin@acme")
    assert settings.sync_logs_enabled is False and settings.sync_log_days == 90
    for tenant in (quiet, loud):
        record_attempt(
            runtime.db,
            tenant,
            issue_key="NEW-1",
            action="create",
            outcome="failed",
            error="secretive detail",
            details={"changed": ["description"]},
            duration_ms=5,
            api_calls=4,
        )
    assert _state(runtime, quiet)["attempts"]["NEW-1"] == ("create", "failed", 4, None, {})
    assert _state(runtime, loud)["attempts"]["NEW-1"] == (
        "create",
        "failed",
        4,
        "secretive detail",
        {"changed": ["description"]},
    )
    # Details written before the switch are cleared by the next purge; the rest stays.
    result = purge_expired(runtime, now=NOW)
    after = _state(runtime, quiet)
    assert result[str(quiet)]["sync_attempts"] == 1
    assert after["attempts"]["earlier"] == ("update", "failed", 2, None, {})
    assert after["raw"] == ["earlier"] and len(after["hooks"]) == 4
    assert _state(runtime, loud)["attempts"]["NEW-1"][3] == "secretive detail"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("raw_response_days", 31),
        ("raw_response_days", -1),
        ("raw_response_days", True),
        ("sync_log_days", 0),
        ("sync_log_days", 91),
        ("sync_log_days", 30.5),
        ("sync_logs_enabled", "yes"),
    ],
)
def test_settings_outside_the_platform_maxima_are_refused(
    runtime: Runtime, new_tenant, field: str, value: Any
) -> None:
    tenant = new_tenant("limits")
    with runtime.db.tenant_session(tenant) as session:
        with pytest.raises(RetentionError, match=field):
            set_retention(session, **{field: value})
        assert get_retention(session) == RetentionSettings(30, 90, True)


def test_boundary_settings_are_stored_and_audited(runtime: Runtime, new_tenant) -> None:
    tenant = new_tenant("bounds")
    with runtime.db.tenant_session(tenant) as session:
        stored = set_retention(session, raw_response_days=0, sync_log_days=1)
        assert stored == RetentionSettings(0, 1, True)
        assert set_retention(session, raw_response_days=30, sync_log_days=90).sync_log_days == 90
        audited = session.execute(
            text("SELECT details FROM audit_events WHERE action = 'retention.updated' ORDER BY id")
        ).scalars()
        assert list(audited) == [
            {"raw_response_days": 0, "sync_log_days": 1},
            {"raw_response_days": 30, "sync_log_days": 90},
        ]


@pytest.mark.parametrize(
    "assignment", ["raw_response_days = 31", "sync_log_days = 91", "sync_log_days = 0"]
)
def test_the_database_refuses_windows_past_the_maxima_too(
    runtime: Runtime, new_tenant, assignment: str
) -> None:
    tenant = new_tenant("checks")
    with pytest.raises(IntegrityError):
        with runtime.db.tenant_session(tenant) as session:
            session.execute(text(f"UPDATE tenants SET {assignment}"))


def test_the_purge_works_in_batches(runtime: Runtime, new_tenant) -> None:
    tenant, ids = _workspace(runtime, new_tenant, raw_response_days=1, sync_log_days=1)
    for number in range(5):
        _add_rows(runtime, tenant, ids, NOW - 2 * DAY - number * MINUTE, f"b{number}")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        if statement.startswith("DELETE FROM raw_responses") and params["t"] == tenant:
            statements.append(statement)

    engine = runtime.maintenance_engine()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        result = purge_expired(runtime, now=NOW, batch=2)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert result[str(tenant)] == {"raw_responses": 5, "sync_attempts": 5, "webhook_events": 10}
    assert len(statements) == 3  # 2 + 2 + 1
    after = _state(runtime, tenant)
    assert after["raw"] == [] and all(row[3:] == (None, {}) for row in after["attempts"].values())
    assert sorted(after["hooks"]) == sorted(
        f"b{n}:{status}" for n in range(5) for status in ("failed", "pending")
    )
    assert str(tenant) not in purge_expired(runtime, now=NOW, batch=2)


def test_the_clock_runs_the_purge_daily() -> None:
    import clock

    registered: list[tuple[Any, dict[str, Any]]] = []

    class Recorder:
        def register(self, func: Any, **options: Any) -> None:
            registered.append((func, options))

    clock.register_schedule(Recorder())  # type: ignore[arg-type]
    purges = [options for func, options in registered if func.__name__ == "purge_expired_job"]
    assert purges == [{"queue_name": "maintenance", "interval": 24 * 3600}]


def test_sealed_details_past_the_window_are_blanked_too(
    runtime: Runtime, owner_engine, new_tenant
) -> None:
    tenant, _ = _workspace(runtime, new_tenant, sync_log_days=10, seal_sync_logs=True)
    runtime.log_policies.forget(tenant)
    for key in ("old", "recent"):
        record_detailed_attempt(runtime, tenant, key, "sealed " + key, failed=True)
    with owner_engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})
        connection.execute(
            text("UPDATE sync_attempts SET created_at = :at WHERE issue_key = 'old'"),
            {"at": NOW - 11 * DAY},
        )

    def sealed() -> dict[str, Any]:
        with runtime.db.tenant_session(tenant) as session:
            rows = session.execute(text("SELECT * FROM sync_attempts")).all()
        return {row.issue_key: row for row in rows}

    before = sealed()
    assert all(row.sealed_details is not None and row.error is None for row in before.values())
    result = purge_expired(runtime, now=NOW)
    assert result[str(tenant)]["sync_attempts"] == 1
    after = sealed()
    old, recent = after["old"], after["recent"]
    assert (old.sealed_details, old.seal_id, old.details, old.error) == (None, None, {}, None)
    assert (old.action, old.outcome, old.api_calls) == ("update", "failed", 3)
    assert bytes(recent.sealed_details) == bytes(before["recent"].sealed_details)
    with runtime.db.tenant_session(tenant) as session:
        assert attempt_details(session, runtime.keys, recent) == (
            {"changed": ["summary"], "note": "sealed recent"},
            "Jira refused edit_issue (400): sealed recent",
        )
    assert str(tenant) not in purge_expired(runtime, now=NOW), "a re-run removes nothing"


def test_the_seal_switch_is_validated_and_audited(runtime: Runtime, new_tenant) -> None:
    tenant = new_tenant("seal-switch")
    with runtime.db.tenant_session(tenant) as session:
        with pytest.raises(RetentionError, match="seal_sync_logs"):
            set_retention(session, seal_sync_logs="on")  # type: ignore[arg-type]
        assert get_retention(session).seal_sync_logs is False
        assert set_retention(session, seal_sync_logs=True, actor="admin") == RetentionSettings(
            30, 90, True, True
        )
        audited = session.execute(
            text("SELECT actor, details FROM audit_events WHERE action = 'retention.updated'")
        ).one()
    assert tuple(audited) == ("admin", {"seal_sync_logs": True})
