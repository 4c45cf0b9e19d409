"""Compliance: account deletion is scheduled, cancellable, and after the grace period a
hard delete that leaves no row of the tenant, no DEK and only a hashed tombstone."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from rq import Queue
from sqlalchemy import Engine, inspect, text

from compliance.deletion import DeletionFailed, delete_due_workspaces, tenant_hash
from compliance.notice_recipients import set_contact_email
from compliance.tenant_tables import tenant_tables as sweeper_tables
from compliance.workspace_deletion import cancel_workspace_deletion, request_workspace_deletion
from keys.data_keys import DataKeyGone, KeyService
from keys.envelope import SealContext
from mailer.queue import QUEUE as MAIL_QUEUE
from models import Base
from models.deletion_requests import cancel_deletion, schedule_deletion
from models.installations import Installation, shared_secret_of
from models.lifecycle import InstallRequest, find_installation, install, set_status
from models.roles import app_role, maintenance_role
from runtime import Runtime
from tests.support.mail import deliver_queued_mail, mail_to
from tests.test_tenant_isolation import Seeded, seed, tenant_tables

PAST_GRACE = timedelta(days=7, hours=1)


def _tenant_rows(owner: Engine, tenant: uuid.UUID) -> dict[str, int]:
    """Rows per tenant table (from the catalog) holding the tenant's id, read as the owner
    with the tenant set (the owner is under FORCE RLS too)."""
    with owner.begin() as connection:
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})
        return {
            table: connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column} = :t"), {"t": tenant}
            ).scalar_one()
            for table, column in tenant_tables(owner)
        }


def _raw_secret(owner: Engine, seeded: Seeded) -> tuple[bytes, SealContext]:
    """The installation's sealed sharedSecret as a database dump would hold it."""
    with owner.begin() as connection:
        connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(seeded.tenant_id)}
        )
        sealed = connection.execute(
            text("SELECT shared_secret FROM installations WHERE id = :i"),
            {"i": seeded.installation_id},
        ).scalar_one()
    context = SealContext(
        seeded.tenant_id, "installations", str(seeded.installation_id), "shared_secret"
    )
    return bytes(sealed), context


def _open(runtime: Runtime, keys: KeyService, tenant: uuid.UUID, raw: tuple) -> str:
    with runtime.db.tenant_session(tenant) as session:
        return keys.open(session, *raw).decode()


def _tombstones(owner: Engine) -> list[tuple[str, str]]:
    with owner.connect() as connection:
        rows = connection.execute(text("SELECT tenant_hash, t::text FROM deletion_tombstones t"))
        return [tuple(row) for row in rows]


@pytest.fixture
def doomed_and_kept(runtime: Runtime, new_tenant) -> Iterator[tuple[Seeded, Seeded]]:
    """Two tenants seeded in every tenant table; only the first stays scheduled."""
    doomed, kept = seed(runtime, new_tenant, "doomed"), seed(runtime, new_tenant, "kept")
    with runtime.db.tenant_session(kept.tenant_id) as session:
        assert cancel_deletion(session)
    yield doomed, kept


def test_the_sweeper_covers_every_tenant_table_and_may_delete_from_each(
    runtime: Runtime, owner_engine: Engine
) -> None:
    catalog = set(tenant_tables(owner_engine))
    with runtime.maintenance_engine().connect() as connection:
        ordered = sweeper_tables(connection)
    assert set(ordered) == catalog and len(ordered) == len(catalog)
    modelled = {
        (table.name, "id" if table.name == "tenants" else "tenant_id")
        for table in Base.metadata.sorted_tables
        if "tenant_id" in table.c or table.name == "tenants"
    }
    assert modelled == catalog
    position = {table: index for index, (table, _) in enumerate(ordered)}
    inspector = inspect(owner_engine)
    for table, column in ordered:
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] in position and fk["referred_table"] != table:
                assert position[table] < position[fk["referred_table"]], (table, fk)
        with owner_engine.connect() as connection:
            may = connection.execute(
                text(
                    "SELECT has_table_privilege(:r, :t, 'DELETE'),"
                    " has_column_privilege(:r, :t, :c, 'SELECT'),"
                    " has_table_privilege(:r, :t, 'TRUNCATE')"
                ),
                {"r": maintenance_role(), "t": table, "c": column},
            ).one()
        assert tuple(may) == (True, True, False), table


def test_the_tombstone_table_points_at_no_tenant_and_is_insert_only(
    owner_engine: Engine,
) -> None:
    columns = {c["name"] for c in inspect(owner_engine).get_columns("deletion_tombstones")}
    assert columns == {"id", "tenant_hash", "requested_at", "deleted_at", "row_counts"}
    with owner_engine.connect() as connection:
        for role, privilege, expected in (
            (maintenance_role(), "INSERT", True),
            (maintenance_role(), "SELECT", True),
            (maintenance_role(), "UPDATE", False),
            (maintenance_role(), "DELETE", False),
            (app_role(), "SELECT", False),
            (app_role(), "INSERT", False),
        ):
            granted = connection.execute(
                text("SELECT has_table_privilege(:r, 'deletion_tombstones', :p)"),
                {"r": role, "p": privilege},
            ).scalar_one()
            assert granted is expected, (role, privilege)


def test_scheduling_marks_the_workspace_and_a_cancelled_request_deletes_nothing(
    runtime: Runtime, owner_engine: Engine, doomed_and_kept
) -> None:
    doomed, _ = doomed_and_kept
    with runtime.db.tenant_session(doomed.tenant_id) as session:
        status = session.execute(text("SELECT status FROM tenants")).scalar_one()
        assert status == "deletion_scheduled"
        assert cancel_deletion(session)
        assert session.execute(text("SELECT status FROM tenants")).scalar_one() == "active"
    before = _tenant_rows(owner_engine, doomed.tenant_id)
    delete_due_workspaces(runtime, now=datetime.now(UTC) + PAST_GRACE)
    assert _tenant_rows(owner_engine, doomed.tenant_id) == before
    assert tenant_hash(doomed.tenant_id) not in {h for h, _ in _tombstones(owner_engine)}


def test_a_sweep_within_the_grace_period_deletes_nothing(
    runtime: Runtime, owner_engine: Engine, doomed_and_kept
) -> None:
    doomed, _ = doomed_and_kept
    before = _tenant_rows(owner_engine, doomed.tenant_id)
    assert delete_due_workspaces(runtime, now=datetime.now(UTC) + timedelta(days=6)) == 0
    assert _tenant_rows(owner_engine, doomed.tenant_id) == before


def test_after_the_grace_period_every_row_and_key_of_the_tenant_is_gone(
    runtime: Runtime, owner_engine: Engine, doomed_and_kept
) -> None:
    doomed, kept = doomed_and_kept
    before = _tenant_rows(owner_engine, doomed.tenant_id)
    kept_before = _tenant_rows(owner_engine, kept.tenant_id)
    assert all(before.values()), f"every tenant table is seeded: {before}"
    dump = _raw_secret(owner_engine, doomed)
    assert _open(runtime, runtime.keys, doomed.tenant_id, dump) == "s3cret-doomed"
    assert runtime.keys.cache.get(doomed.data_key_id) is not None, "the DEK is cached"

    assert delete_due_workspaces(runtime, now=datetime.now(UTC) + PAST_GRACE) >= 1

    after = _tenant_rows(owner_engine, doomed.tenant_id)
    assert after == dict.fromkeys(before, 0), after
    with owner_engine.begin() as connection:
        connection.execute(
            text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(doomed.tenant_id)}
        )
        assert (
            connection.execute(
                text("SELECT count(*) FROM tenant_directory WHERE key = :k"),
                {"k": doomed.client_key},
            ).scalar_one()
            == 0
        )
        assert (
            connection.execute(
                text("SELECT count(*) FROM data_keys WHERE id = :k"), {"k": doomed.data_key_id}
            ).scalar_one()
            == 0
        )
    assert runtime.db.directory_lookup("connect_client_key", doomed.client_key) is None
    assert runtime.keys.cache.get(doomed.data_key_id) is None, "evicted from the cache"
    for keys in (runtime.keys, KeyService(runtime.keys.kek, cache_seconds=0)):
        with pytest.raises(DataKeyGone):
            _open(runtime, keys, doomed.tenant_id, dump)

    assert _tenant_rows(owner_engine, kept.tenant_id) == kept_before, "the other tenant"
    with runtime.db.tenant_session(kept.tenant_id) as session:
        installation = session.get(Installation, kept.installation_id)
        assert shared_secret_of(session, KeyService(runtime.keys.kek, 0), installation) == (
            "s3cret-kept"
        )

    (tombstone,) = [
        row for h, row in _tombstones(owner_engine) if h == tenant_hash(doomed.tenant_id)
    ]
    for plain in (str(doomed.tenant_id), doomed.tenant_id.hex, doomed.client_key, "doomed"):
        assert plain not in tombstone
    with owner_engine.connect() as connection:
        counts = connection.execute(
            text("SELECT row_counts FROM deletion_tombstones WHERE tenant_hash = :h"),
            {"h": tenant_hash(doomed.tenant_id)},
        ).scalar_one()
    assert counts == before

    tombstones = _tombstones(owner_engine)
    assert delete_due_workspaces(runtime, now=datetime.now(UTC) + PAST_GRACE) == 0
    assert _tombstones(owner_engine) == tombstones, "a re-run changes nothing"
    assert _tenant_rows(owner_engine, kept.tenant_id) == kept_before


def test_a_failure_rolls_the_whole_tenant_back(
    runtime: Runtime, owner_engine: Engine, doomed_and_kept
) -> None:
    # A tenant table the maintenance role was never granted DELETE on (a migration
    # that forgot the grant): the sweep must fail loudly, not skip it or half-delete.
    doomed, _ = doomed_and_kept
    with owner_engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE forgotten_notes (tenant_id uuid NOT NULL "
                "REFERENCES tenants (id) ON DELETE CASCADE, note text)"
            )
        )
        connection.execute(
            text("INSERT INTO forgotten_notes VALUES (:t, 'n')"), {"t": doomed.tenant_id}
        )
    try:
        before = _tenant_rows(owner_engine, doomed.tenant_id)
        with pytest.raises(DeletionFailed):
            delete_due_workspaces(runtime, now=datetime.now(UTC) + PAST_GRACE)
        assert _tenant_rows(owner_engine, doomed.tenant_id) == before
    finally:
        with owner_engine.begin() as connection:
            connection.execute(text("DROP TABLE forgotten_notes"))
    assert delete_due_workspaces(runtime, now=datetime.now(UTC) + PAST_GRACE) >= 1
    assert not any(_tenant_rows(owner_engine, doomed.tenant_id).values())


def test_a_reinstall_within_the_grace_period_cancels_the_deletion(
    runtime: Runtime, owner_engine: Engine
) -> None:
    client_key = f"client-{uuid.uuid4()}"
    first = InstallRequest(client_key, "first-secret", "https://back.atlassian.net")
    tenant_id, _ = install(runtime.db, runtime.keys, first)
    assert set_status(runtime.db, client_key, "uninstalled")
    with runtime.db.tenant_session(tenant_id) as session:
        assert session.execute(text("SELECT status FROM tenants")).scalar_one() == (
            "deletion_scheduled"
        )
    again = InstallRequest(client_key, "second-secret", "https://back.atlassian.net")
    assert install(runtime.db, runtime.keys, again) == (tenant_id, True)
    with runtime.db.tenant_session(tenant_id) as session:
        assert session.execute(text("SELECT status FROM deletion_requests")).scalar_one() == (
            "cancelled"
        )
        assert session.execute(text("SELECT status FROM tenants")).scalar_one() == "active"
        cancelled = session.execute(
            text(
                "SELECT details ->> 'deletion_cancelled' FROM audit_events "
                "WHERE action = 'installation.reinstalled'"
            )
        ).scalar_one()
        assert cancelled == "true"
    delete_due_workspaces(runtime, now=datetime.now(UTC) + PAST_GRACE)
    found = find_installation(runtime.db, runtime.keys, client_key)
    assert found is not None and found.shared_secret == "second-secret"
    assert tenant_hash(tenant_id) not in {h for h, _ in _tombstones(owner_engine)}


# Notices: the contact address hears about a scheduled, cancelled and finished deletion,
# only after the change commits, and the address is nowhere once the workspace is gone.


def _contact(runtime: Runtime, tenant: uuid.UUID) -> str:
    address = f"admin-{uuid.uuid4().hex[:10]}@customer.example"
    with runtime.db.tenant_session(tenant) as session:
        set_contact_email(session, address, actor="test")
    return address


def _only_mail(runtime: Runtime, address: str) -> EmailMessage:
    deliver_queued_mail(runtime)
    (mail,) = mail_to(runtime, address)
    return mail


def test_uninstall_mails_the_scheduled_notice_and_a_reinstall_the_cancelled_one(
    clean_mail: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    runtime = clean_mail
    client_key = f"client-{uuid.uuid4()}"
    request = InstallRequest(client_key, "secret-one", "https://notice.atlassian.net")
    tenant_id, _ = install(runtime.db, runtime.keys, request)
    address = _contact(runtime, tenant_id)
    assert set_status(runtime.db, client_key, "uninstalled")
    mail = _only_mail(runtime, address)
    with runtime.db.tenant_session(tenant_id) as session:
        delete_after = session.execute(text("SELECT delete_after FROM deletion_requests"))
        delete_after = delete_after.scalar_one()
    assert (
        mail["Subject"]
        == f"Tandem: notice.atlassian.net will be deleted on {delete_after:%Y-%m-%d}"
    )
    body = mail.get_content()
    assert f"{delete_after:%Y-%m-%d %H:%M} UTC" in body
    assert "re-install Tandem on notice.atlassian.net" in body and "cancel" in body
    assert "app uninstalled" in body

    assert set_status(runtime.db, client_key, "uninstalled"), "already scheduled"
    deliver_queued_mail(runtime)
    assert len(mail_to(runtime, address)) == 1, "scheduling again sends nothing"

    install(runtime.db, runtime.keys, replace(request, shared_secret="secret-two"))
    deliver_queued_mail(runtime)
    scheduled, cancelled = mail_to(runtime, address)
    assert cancelled["Subject"] == "Tandem: the deletion of notice.atlassian.net was cancelled"
    assert "Nothing was deleted" in cancelled.get_content()
    assert scheduled["Message-ID"] != cancelled["Message-ID"]
    for private in (address, "customer.example", "re-install Tandem", "Nothing was deleted"):
        assert private not in caplog.text
    assert "mail deletion_scheduled queued for 1 recipient(s)" in caplog.text


def test_a_rolled_back_change_sends_nothing_and_no_contact_means_no_mail(
    clean_mail: Runtime, new_tenant
) -> None:
    runtime = clean_mail
    tenant = new_tenant("rollback")
    address = _contact(runtime, tenant)
    with pytest.raises(RuntimeError, match="changed my mind"):
        with runtime.db.tenant_session(tenant) as session:
            schedule_deletion(session, reason="test")
            raise RuntimeError("changed my mind")
    silent = new_tenant("silent")
    with runtime.db.tenant_session(silent) as session:
        schedule_deletion(session, reason="test")
    assert Queue(MAIL_QUEUE, connection=runtime.redis).count == 0
    with runtime.db.tenant_session(tenant) as session:
        assert session.execute(text("SELECT count(*) FROM deletion_requests")).scalar_one() == 0
        cancel_deletion(session)  # nothing to cancel: no notice either
    deliver_queued_mail(runtime)
    assert mail_to(runtime, address) == []


def test_requesting_and_cancelling_deletion_programmatically(
    clean_mail: Runtime, new_tenant
) -> None:
    runtime = clean_mail
    tenant = new_tenant("by-hand")
    address = _contact(runtime, tenant)
    delete_after = request_workspace_deletion(runtime, tenant, actor="admin:1")
    assert request_workspace_deletion(runtime, tenant, actor="admin:1") == delete_after
    assert cancel_workspace_deletion(runtime, tenant, actor="admin:1") is True
    assert cancel_workspace_deletion(runtime, tenant, actor="admin:1") is False
    deliver_queued_mail(runtime)
    scheduled, cancelled = mail_to(runtime, address)
    assert scheduled["Subject"].endswith(f"will be deleted on {delete_after:%Y-%m-%d}")
    assert "requested by a workspace administrator" in scheduled.get_content()
    assert "was cancelled" in cancelled["Subject"]
    with runtime.db.tenant_session(tenant) as session:
        actions = session.execute(
            text("SELECT action FROM audit_events WHERE actor = 'admin:1' ORDER BY id")
        ).scalars()
        assert list(actions) == ["deletion.requested", "deletion.cancelled"]
        assert session.execute(text("SELECT status FROM tenants")).scalar_one() == "active"


def _tables_holding(owner: Engine, tenant: uuid.UUID, needle: str) -> list[str]:
    """Every table (tenant or not) with a row whose text contains ``needle``, read as the
    owner with the tenant set."""
    with owner.begin() as connection:
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})
        tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        return [
            table
            for table in list(tables)
            if connection.execute(
                text(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :n'),
                {"n": f"%{needle}%"},
            ).scalar_one()
        ]


def test_the_sweep_mails_the_done_notice_to_the_address_read_before_deletion(
    clean_mail: Runtime, owner_engine: Engine, doomed_and_kept, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    runtime = clean_mail
    doomed, kept = doomed_and_kept
    address = _contact(runtime, doomed.tenant_id)
    kept_address = _contact(runtime, kept.tenant_id)
    assert _tables_holding(owner_engine, doomed.tenant_id, address) == ["tenants"]

    assert delete_due_workspaces(runtime, now=datetime.now(UTC) + PAST_GRACE) >= 1
    assert _tables_holding(owner_engine, doomed.tenant_id, address) == []
    assert Queue(MAIL_QUEUE, connection=runtime.redis).count >= 1, "queued after the commit"

    mail = _only_mail(runtime, address)
    assert mail["Subject"] == "Tandem: doomed has been deleted"
    body = mail.get_content()
    assert "encryption keys have\nbeen destroyed" in body and "doomed" in body
    for private in (str(doomed.tenant_id), doomed.client_key, "s3cret", "ALP-1", "BET-1"):
        assert private not in body and private not in str(mail)
    assert mail_to(runtime, kept_address) == [], "the kept workspace hears nothing"
    assert address not in caplog.text and "encryption keys" not in caplog.text


def test_a_stored_address_gone_bad_never_stops_the_deletion_it_announces(
    clean_mail: Runtime, new_tenant, owner_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    runtime = clean_mail
    tenant = new_tenant("bad-address")
    with owner_engine.begin() as connection:  # past the setter's check, as a bad import might
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})
        connection.execute(
            text("UPDATE tenants SET contact_email = 'nobody at all' WHERE id = :t"), {"t": tenant}
        )
    request_workspace_deletion(runtime, tenant, actor="admin:2")
    assert "mail deletion_scheduled not sent: InvalidAddress" in caplog.text
    assert delete_due_workspaces(runtime, now=datetime.now(UTC) + PAST_GRACE) >= 1
    assert "mail deletion_done not sent: InvalidAddress" in caplog.text
    assert not any(_tenant_rows(owner_engine, tenant).values()), "deleted all the same"
    assert "nobody at all" not in caplog.text
