"""Acceptance 2: one tenant cannot read or change another's rows, as the app role."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from models.atlassian_accounts import AtlassianAccount
from models.audit import record_audit
from models.connections import create_connection, store_tokens
from models.db import Database, MissingTenant, make_engine
from models.deletion_requests import schedule_deletion
from models.forge_installations import create_forge_installation, store_system_token
from models.installations import create_installation
from models.integrations import Integration
from models.links import AttachmentLink, CommentLink, IssueLink
from models.raw_responses import RawResponse
from models.sync_attempts import record_attempt
from models.tenants import register_directory_key
from models.webhook_events import WebhookEvent
from runtime import Runtime
from tests.conftest import count
from tests.support.account_rows import seed_account_rows


@dataclass
class Seeded:
    tenant_id: uuid.UUID
    client_key: str
    installation_id: uuid.UUID
    data_key_id: uuid.UUID
    connection_id: uuid.UUID


def tenant_tables(owner_engine: Engine) -> list[tuple[str, str]]:
    """Every table with a tenant column, from the catalog, with that column's name."""
    with owner_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c "
                "WHERE c.table_schema = 'public' AND (c.column_name = 'tenant_id' "
                "OR (c.table_name = 'tenants' AND c.column_name = 'id')) ORDER BY 1"
            )
        )
        return [(table, column) for table, column in rows]


def seed(runtime: Runtime, new_tenant, name: str) -> Seeded:
    tenant_id = new_tenant(name)
    client_key = f"client-{uuid.uuid4()}"
    with runtime.db.tenant_session(tenant_id) as session:
        register_directory_key(session, "connect_client_key", client_key)
        installation = create_installation(
            session, runtime.keys, client_key, f"https://{name}.atlassian.net", "s3cret-" + name
        )
        connection = create_connection(session, runtime.keys, f"cloud-{uuid.uuid4()}", "https://x")
        store_tokens(
            session, runtime.keys, connection, "at", "rt", datetime.now(UTC) + timedelta(hours=1)
        )
        record_audit(session, tenant_id, "test", "seeded", subject=name)
        forge = create_forge_installation(
            session,
            runtime.keys,
            installation.id,
            f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
            "ari:cloud:ecosystem::app/6b7e2f5c-1d3a-4c8e-9f00-5a1b2c3d4e5f",
            f"cloud-{uuid.uuid4()}",
            "https://api.atlassian.com/ex/jira/x",
        )
        store_system_token(
            session, runtime.keys, forge, "system-" + name, datetime.now(UTC) + timedelta(hours=1)
        )
        session.add(
            WebhookEvent(
                tenant_id=tenant_id,
                installation_id=installation.id,
                identifier=f"hook-{uuid.uuid4()}",
                event="jira:issue_created",
                payload={"webhookEvent": "jira:issue_created"},
                received_at=datetime.now(UTC),
            )
        )
        session.add(
            WebhookEvent(
                tenant_id=tenant_id,
                connection_id=connection.id,
                identifier=f"dynamic-{uuid.uuid4()}",
                event="jira:issue_updated",
                payload={"webhookEvent": "jira:issue_updated"},
                received_at=datetime.now(UTC),
            )
        )
        schedule_deletion(session, reason="test")
        _seed_sync_rows(session, tenant_id, installation, connection)
        seed_account_rows(session, tenant_id)
    record_attempt(
        runtime.db, tenant_id, action="create", outcome="ok", duration_ms=1, issue_key="A-1"
    )
    return Seeded(tenant_id, client_key, installation.id, installation.data_key_id, connection.id)


def _seed_sync_rows(session: Session, tenant_id: uuid.UUID, installation, connection) -> None:
    integration = Integration(
        tenant_id=tenant_id,
        name="seed",
        source_installation_id=installation.id,
        source_project="ALP",
        target_connection_id=connection.id,
        target_project="BET",
        config={},
    )
    session.add(integration)
    session.flush()
    link = IssueLink(
        tenant_id=tenant_id,
        integration_id=integration.id,
        source_issue_id="1",
        source_issue_key="ALP-1",
        target_issue_id="2",
        target_issue_key="BET-1",
    )
    session.add(link)
    session.flush()
    session.add(
        CommentLink(
            tenant_id=tenant_id, issue_link_id=link.id, origin="source", source_comment_id="10"
        )
    )
    session.add(
        AttachmentLink(
            tenant_id=tenant_id, issue_link_id=link.id, origin="source", source_attachment_id="20"
        )
    )
    session.add(
        RawResponse(
            tenant_id=tenant_id, data_key_id=installation.data_key_id, source="seed", body=b"sealed"
        )
    )
    session.add(
        AtlassianAccount(
            tenant_id=tenant_id, account_id=f"557058:{uuid.uuid4()}", connection_id=connection.id
        )
    )


@pytest.fixture
def pair(runtime: Runtime, new_tenant) -> tuple[Seeded, Seeded]:
    return seed(runtime, new_tenant, "alpha"), seed(runtime, new_tenant, "beta")


def test_every_tenant_table_is_seeded(pair, owner_engine: Engine) -> None:
    # Guards the tests below: each tenant table must hold rows of both tenants.
    a, b = pair
    tables = tenant_tables(owner_engine)
    assert {t for t, _ in tables} >= {
        "tenants",
        "tenant_directory",
        "installations",
        "data_keys",
        "connections",
        "audit_events",
        "webhook_events",
        "deletion_requests",
        "integrations",
        "issue_links",
        "comment_links",
        "attachment_links",
        "sync_attempts",
        "raw_responses",
        "atlassian_accounts",
        "forge_installations",
    }
    db = Database(make_engine(owner_engine.url.render_as_string(hide_password=False)))
    for tenant in (a, b):
        with db.tenant_session(tenant.tenant_id) as session:
            for table, column in tables:
                visible = count(
                    session, f"SELECT count(*) FROM {table} WHERE {column} = :t", t=tenant.tenant_id
                )
                assert visible >= 1, table
    db.dispose()


def test_no_tenant_set_sees_nothing(pair, db: Database, owner_engine: Engine) -> None:
    for table, _ in tenant_tables(owner_engine):
        assert count(db.engine, f"SELECT count(*) FROM {table}") == 0, table


def test_tenant_sees_only_its_own_rows(pair, db: Database, owner_engine: Engine) -> None:
    a, b = pair
    for table, column in tenant_tables(owner_engine):
        with db.tenant_session(a.tenant_id) as session:
            assert (
                count(session, f"SELECT count(*) FROM {table} WHERE {column} = :b", b=b.tenant_id)
                == 0
            )
            others = count(
                session, f"SELECT count(*) FROM {table} WHERE {column} <> :a", a=a.tenant_id
            )
            assert others == 0, table
            assert count(session, f"SELECT count(*) FROM {table}") >= 1, table


def test_updates_and_deletes_of_other_tenant_affect_nothing(
    pair, db: Database, owner_engine: Engine
) -> None:
    a, b = pair
    with db.tenant_session(a.tenant_id) as session:
        updated = session.execute(
            text("UPDATE installations SET base_url = 'https://evil' WHERE tenant_id = :b"),
            {"b": b.tenant_id},
        )
        assert updated.rowcount == 0
        deleted = session.execute(
            text("DELETE FROM connections WHERE tenant_id = :b"), {"b": b.tenant_id}
        )
        assert deleted.rowcount == 0
        deleted = session.execute(text("DELETE FROM tenants WHERE id = :b"), {"b": b.tenant_id})
        assert deleted.rowcount == 0
    with owner_engine.connect() as connection:
        connection.execute(
            text("SELECT set_config('app.tenant_id', :b, false)"), {"b": str(b.tenant_id)}
        )
        url = connection.execute(
            text("SELECT base_url FROM installations WHERE id = :i"), {"i": b.installation_id}
        ).scalar_one()
        assert url == "https://beta.atlassian.net"
        assert (
            count(connection, "SELECT count(*) FROM connections WHERE id = :c", c=b.connection_id)
            == 1
        )
        connection.rollback()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO audit_events (tenant_id, actor, action) VALUES (:b, 'x', 'forged')",
        "INSERT INTO tenant_directory (kind, key, tenant_id) VALUES ('cloud_id', 'forged', :b)",
        "UPDATE connections SET tenant_id = :b",
        "UPDATE tenant_directory SET tenant_id = :b",
    ],
)
def test_writing_rows_for_another_tenant_fails(pair, db: Database, statement: str) -> None:
    a, b = pair
    with (
        pytest.raises(DBAPIError, match="row-level security"),
        db.tenant_session(a.tenant_id) as session,
    ):
        session.execute(text(statement), {"b": b.tenant_id})


def test_child_cannot_point_at_another_tenants_parent(pair, runtime: Runtime) -> None:
    a, b = pair
    with pytest.raises(IntegrityError, match="fk_installations_data_key_id_tenant_id"):
        with runtime.db.tenant_session(a.tenant_id) as session:
            session.execute(
                text(
                    "INSERT INTO installations (id, tenant_id, client_key, base_url, data_key_id, "
                    "shared_secret) VALUES (:id, :a, 'stolen', 'https://x', :key, '\\x00')"
                ),
                {"id": uuid.uuid4(), "a": a.tenant_id, "key": b.data_key_id},
            )


@pytest.mark.parametrize(
    ("sender", "match"),
    [
        ("connection", "fk_webhook_events_connection_id_tenant_id"),
        ("both", "ck_webhook_events_one_sender"),
        ("neither", "ck_webhook_events_one_sender"),
    ],
)
def test_an_inbox_row_has_one_sender_of_its_own_tenant(
    pair, runtime: Runtime, sender: str, match: str
) -> None:
    a, b = pair
    senders = {
        "connection": (None, b.connection_id),
        "both": (a.installation_id, a.connection_id),
        "neither": (None, None),
    }
    installation_id, connection_id = senders[sender]
    with pytest.raises(IntegrityError, match=match):
        with runtime.db.tenant_session(a.tenant_id) as session:
            session.execute(
                text(
                    "INSERT INTO webhook_events (id, tenant_id, installation_id, connection_id, "
                    "identifier, event, payload) VALUES (:id, :a, :i, :c, :n, 'e', '{}')"
                ),
                {
                    "id": uuid.uuid4(),
                    "a": a.tenant_id,
                    "i": installation_id,
                    "c": connection_id,
                    "n": str(uuid.uuid4()),
                },
            )


def test_pooled_connection_never_carries_a_tenant_over(pair, settings) -> None:
    a, b = pair
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
    db = Database(engine)
    pids = []
    try:
        with db.tenant_session(a.tenant_id) as session:
            pids.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            assert count(session, "SELECT count(*) FROM tenants WHERE id = :a", a=a.tenant_id) == 1
        with db.tenant_session(b.tenant_id) as session:
            pids.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            seen = (
                session.execute(text("SELECT DISTINCT tenant_id FROM installations"))
                .scalars()
                .all()
            )
            assert seen == [b.tenant_id]
        with engine.connect() as connection:
            pids.append(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
            leftover = connection.execute(
                text("SELECT current_setting('app.tenant_id', true)")
            ).scalar_one()
            assert leftover in (None, "")
            assert count(connection, "SELECT count(*) FROM installations") == 0
    finally:
        engine.dispose()
    assert len(set(pids)) == 1, "the test must reuse one pooled connection"


def test_missing_or_malformed_tenant_is_refused(db: Database) -> None:
    for bad in (None, "", "not-a-uuid"):
        with pytest.raises(MissingTenant), db.tenant_session(bad):
            pass


def test_directory_lookup_sees_exactly_one_row(pair, db: Database) -> None:
    a, b = pair
    assert db.directory_lookup("connect_client_key", a.client_key) == a.tenant_id
    assert db.directory_lookup("connect_client_key", b.client_key) == b.tenant_id
    assert db.directory_lookup("connect_client_key", "unknown") is None
    assert db.directory_lookup("cloud_id", a.client_key) is None
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "SELECT set_config('app.lookup_kind', 'connect_client_key', true), "
                "set_config('app.lookup_key', :k, true)"
            ),
            {"k": a.client_key},
        )
        assert count(connection, "SELECT count(*) FROM tenant_directory") == 1
        assert count(connection, "SELECT count(*) FROM installations") == 0
        deleted = connection.execute(text("DELETE FROM tenant_directory"))
        assert deleted.rowcount == 0


def _single_connection_db(settings) -> Database:
    return Database(make_engine(settings.database_url, pool_size=1, max_overflow=0))


def test_tenant_is_set_for_any_kind_of_first_statement(pair, settings) -> None:
    a, _ = pair
    db = _single_connection_db(settings)
    try:
        with db.tenant_session(a.tenant_id) as session:  # positional parameters
            raw = (
                session.connection()
                .exec_driver_sql(
                    "SELECT count(*), count(*) FILTER (WHERE tenant_id = %s) FROM installations",
                    (str(a.tenant_id),),
                )
                .one()
            )
            assert raw == (1, 1)
        with db.tenant_session(a.tenant_id) as session:  # executemany first
            session.execute(  # (audit_events would refuse rows that are not hash-chained)
                text(
                    "INSERT INTO tenant_directory (kind, key, tenant_id) "
                    "VALUES ('cloud_id', :k, :t)"
                ),
                [{"t": a.tenant_id, "k": "many-one"}, {"t": a.tenant_id, "k": "many-two"}],
            )
        with db.tenant_session(a.tenant_id) as session:
            many = "SELECT count(*) FROM tenant_directory WHERE key LIKE 'many-%'"
            assert count(session, many) == 2
        with db.tenant_session(a.tenant_id) as session:  # a server-side cursor first
            streamed = session.execute(
                text("SELECT tenant_id FROM installations"),
                execution_options={"yield_per": 1},
            )
            assert [row.tenant_id for row in streamed] == [a.tenant_id]
    finally:
        db.dispose()


def test_a_pending_tenant_never_reaches_the_next_user(pair, settings) -> None:
    a, _ = pair
    db = _single_connection_db(settings)
    try:
        with db.tenant_session(a.tenant_id) as session:
            session.connection()  # begins: the tenant is pending, no statement follows
        with db.engine.connect() as connection:
            assert count(connection, "SELECT count(*) FROM installations") == 0
        with pytest.raises(DBAPIError), db.tenant_session(a.tenant_id) as session:
            session.execute(text("SELECT no_such_column FROM installations"))
        assert db.directory_lookup("connect_client_key", a.client_key) == a.tenant_id
        with db.engine.connect() as connection:
            setting = connection.execute(
                text("SELECT current_setting('app.tenant_id', true)")
            ).scalar_one()
            assert setting in (None, "")
            assert count(connection, "SELECT count(*) FROM tenants") == 0
    finally:
        db.dispose()


def test_a_single_round_trip_statement_is_bound_to_its_tenant_alone(pair, settings) -> None:
    """``Database.tenant_statement`` (the inbox's hot path) sees and writes only its
    tenant's rows, and leaves no tenant on the pooled connection."""
    a, b = pair
    db = _single_connection_db(settings)
    try:
        seen = db.tenant_statement(a.tenant_id, "SELECT DISTINCT tenant_id FROM installations", {})
        assert seen == [(a.tenant_id,)]
        touched = db.tenant_statement(
            a.tenant_id,
            "UPDATE installations SET status = status WHERE tenant_id = %(other)s RETURNING id",
            {"other": str(b.tenant_id)},
        )
        assert touched == [], "another tenant's rows cannot be changed"
        with db.engine.connect() as connection:
            leftover = connection.execute(
                text("SELECT current_setting('app.tenant_id', true)")
            ).scalar_one()
            assert leftover in (None, "")
            assert count(connection, "SELECT count(*) FROM installations") == 0
        with pytest.raises(MissingTenant):
            db.tenant_statement(None, "SELECT 1", {})
    finally:
        db.dispose()
