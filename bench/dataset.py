"""The RLS benchmark's data: 1,000 tenants x 1,000 audit rows, and a copy without RLS.

Every tenant table (found in the catalog, so new migrations are covered) gets a twin in
schema ``norls``: same columns, rows, physical order, indexes and foreign keys, no RLS.
Loading runs as the owner in one transaction: RLS is disabled on the public tables, the
rows are COPYed in and copied to ``norls``, and RLS is enabled and forced again before
commit, so no other session ever sees the tables without it. ``verify_rls`` checks the
flags and policies afterwards. Tables the load leaves empty (the webhook inbox) only hold
rows the benchmark inserted, and are emptied at the start of each run.
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from bench.common import migrations_head, note
from models import audit_chain

TENANTS = 1000
ROWS_PER_TENANT = 1000
LOADER_VERSION = 3  # 3: audit rows carry their hash chain
KEK_ID = "bench-kek"
SEED = 20261123
# The tables the load fills; parents before children (the composite foreign keys).
TABLES = ("tenants", "tenant_directory", "data_keys", "installations", "connections")
AUDIT = "audit_events"
LOADED_TABLES = (*TABLES, AUDIT)
AUDIT_COLUMNS = (
    "tenant_id",
    "occurred_at",
    "actor",
    "action",
    "subject",
    "details",
    "prev_hash",
    "row_hash",
)
COPY_CHUNK = 100_000
HISTORY = timedelta(days=90)
SCHEMAS = ("public", "norls")


@dataclass(frozen=True)
class TenantFixture:
    """The ids of one tenant's rows."""

    tenant_id: uuid.UUID
    installation_id: uuid.UUID
    connection_id: uuid.UUID
    installation_key_id: uuid.UUID
    connection_key_id: uuid.UUID
    number: int


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _bytea(raw: bytes) -> str:
    return "\\x" + raw.hex()


def make_tenants(rng: random.Random, count: int) -> list[TenantFixture]:
    """Fresh ids for ``count`` tenants."""
    return [
        TenantFixture(_uuid(rng), _uuid(rng), _uuid(rng), _uuid(rng), _uuid(rng), number)
        for number in range(count)
    ]


def _site(tenant: TenantFixture) -> str:
    return f"https://site-{tenant.number:04d}.atlassian.net"


def _table_rows(tenant: TenantFixture, rng: random.Random, now: str) -> dict[str, list[list[Any]]]:
    """The non-audit rows of one tenant, as COPY rows per table."""
    t = tenant
    keys = [
        [t.installation_key_id, t.tenant_id, "installation", t.installation_id],
        [t.connection_key_id, t.tenant_id, "connection", t.connection_id],
    ]
    token = _bytea(rng.randbytes(90))
    return {
        "tenants": [[t.tenant_id, f"Workspace {t.number}", "active", now, now]],
        "tenant_directory": [["connect_client_key", f"client-{t.tenant_id}", t.tenant_id, now]],
        "data_keys": [[*row, KEK_ID, _bytea(rng.randbytes(60)), now] for row in keys],
        "installations": [
            [
                t.installation_id,
                t.tenant_id,
                f"client-{t.tenant_id}",
                _site(t),
                "enabled",
                t.installation_key_id,
                _bytea(rng.randbytes(80)),
                now,
                now,
            ]
        ],
        "connections": [
            [
                t.connection_id,
                t.tenant_id,
                t.installation_id,
                f"cloud-{t.tenant_id}",
                _site(t),
                "read:jira-work write:jira-work offline_access",
                "active",
                t.connection_key_id,
                token,
                token,
                now,
                now,
                now,
            ]
        ],
    }


TABLE_COLUMNS = {
    "tenants": ("id", "name", "status", "created_at", "updated_at"),
    "tenant_directory": ("kind", "key", "tenant_id", "created_at"),
    "data_keys": ("id", "tenant_id", "owner_kind", "owner_id", "kek_id", "wrapped", "created_at"),
    "installations": (
        "id",
        "tenant_id",
        "client_key",
        "base_url",
        "status",
        "data_key_id",
        "shared_secret",
        "created_at",
        "updated_at",
    ),
    "connections": (
        "id",
        "tenant_id",
        "installation_id",
        "cloud_id",
        "site_url",
        "scopes",
        "status",
        "data_key_id",
        "access_token",
        "refresh_token",
        "token_expires_at",
        "created_at",
        "updated_at",
    ),
}

_ACTIONS = (
    ("webhook.received", "webhook"),
    ("issue.synced", "system"),
    ("issue.synced", "system"),
    ("comment.synced", "system"),
    ("token.refreshed", "system"),
    ("mapping.changed", "user"),
)
_FIELDS = ("summary", "status", "assignee", "priority", "labels", "description", "duedate")


def audit_details(rng: random.Random, action: str, issue: str, site: str) -> dict[str, Any]:
    """A realistic ``details`` document for an audit action (no secrets)."""
    details: dict[str, Any] = {"issue": issue, "site": site, "request_id": rng.randbytes(8).hex()}
    if action == "webhook.received":
        details |= {"event": "jira:issue_updated", "bytes": rng.randint(800, 24_000)}
    elif action == "token.refreshed":
        details |= {"expires_in": 3600, "scopes": ["read:jira-work", "write:jira-work"]}
    elif action == "mapping.changed":
        details |= {"user": f"557058:{rng.randbytes(6).hex()}", "field": rng.choice(_FIELDS)}
    else:
        fields = rng.sample(_FIELDS, rng.randint(1, 4))
        details |= {"fields": fields, "direction": rng.choice(("push", "pull"))}
        details |= {"duration_ms": rng.randint(40, 2500), "attempt": 1}
    return details


def webhook_payload(rng: random.Random, issue: str) -> dict[str, Any]:
    """A Jira ``jira:issue_updated`` delivery of typical size (about 1.5 KB)."""
    account = f"557058:{uuid.UUID(int=rng.getrandbits(128))}"
    user = {"accountId": account, "displayName": "Ada Lovelace", "active": True}
    status_from, status_to = rng.sample(("To Do", "In Progress", "In Review", "Done"), 2)
    fields = {
        "summary": f"Sync {issue}: mirrored fields drift after bulk edit",
        "status": {"name": status_to, "statusCategory": {"key": "indeterminate"}},
        "priority": {"name": rng.choice(("Low", "Medium", "High"))},
        "issuetype": {"name": rng.choice(("Bug", "Story", "Task"))},
        "assignee": user,
        "labels": rng.sample(("sync", "backend", "customer", "p1", "regression"), 2),
        "updated": datetime.now(UTC).isoformat(),
        "description": "Steps to reproduce: edit many issues at once. " * 8,
    }
    change = {"field": "status", "fromString": status_from, "toString": status_to}
    return {
        "timestamp": rng.randint(1_700_000_000_000, 1_800_000_000_000),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": user,
        "issue": {"id": str(rng.randint(10_000, 99_999)), "key": issue, "fields": fields},
        "changelog": {"id": str(rng.randint(10_000, 999_999)), "items": [change]},
    }


def _audit_rows(
    tenants: list[TenantFixture], rows_per_tenant: int, rng: random.Random
) -> Iterator[list[Any]]:
    """Every tenant's audit rows, interleaved and in time order like a real log, each
    chained to the one before it in its (tenant, day) as the product writes them."""
    owners = [t for t in tenants for _ in range(rows_per_tenant)]
    rng.shuffle(owners)
    start = datetime.now(UTC) - HISTORY
    step = HISTORY / len(owners)
    tails: dict[tuple[uuid.UUID, date], bytes] = {}
    for index, tenant in enumerate(owners):
        action, actor = rng.choice(_ACTIONS)
        issue = f"P{tenant.number % 97}-{rng.randint(1, 9000)}"
        details = audit_chain.normalize_details(audit_details(rng, action, issue, _site(tenant)))
        occurred = start + step * index
        tenant_id = uuid.UUID(str(tenant.tenant_id))
        day = (tenant_id, audit_chain.segment_of(occurred))
        prev = tails.get(day) or audit_chain.genesis_hash(*day)
        tails[day] = audit_chain.row_hash(tenant_id, prev, occurred, actor, action, issue, details)
        yield [
            tenant.tenant_id,
            occurred.isoformat(),
            actor,
            action,
            issue,
            json.dumps(details),
            "\\x" + prev.hex(),
            "\\x" + tails[day].hex(),
        ]


def _copy(connection: Connection, table: str, columns: tuple[str, ...], rows: list[Any]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    cursor = connection.connection.cursor()
    try:
        cursor.copy_expert(
            f"COPY public.{table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )
    finally:
        cursor.close()


def _copy_fixtures(
    connection: Connection, tenants: list[TenantFixture], rng: random.Random
) -> None:
    now = datetime.now(UTC).isoformat()
    per_table: dict[str, list[list[Any]]] = {table: [] for table in TABLES}
    for tenant in tenants:
        for table, rows in _table_rows(tenant, rng, now).items():
            per_table[table].extend(rows)
    for table in TABLES:
        _copy(connection, table, TABLE_COLUMNS[table], per_table[table])


def _copy_audit(
    connection: Connection, tenants: list[TenantFixture], rows_per_tenant: int, rng: random.Random
) -> None:
    chunk: list[list[Any]] = []
    for row in _audit_rows(tenants, rows_per_tenant, rng):
        chunk.append(row)
        if len(chunk) == COPY_CHUNK:
            _copy(connection, AUDIT, AUDIT_COLUMNS, chunk)
            chunk = []
    if chunk:
        _copy(connection, AUDIT, AUDIT_COLUMNS, chunk)


def tenant_tables(connection: Connection) -> list[str]:
    """Every public table with a tenant column (``tenants`` itself included)."""
    rows = connection.execute(
        text(
            "SELECT DISTINCT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND (column_name = 'tenant_id' "
            "OR (table_name = 'tenants' AND column_name = 'id')) ORDER BY 1"
        )
    )
    return [row[0] for row in rows]


def _set_rls(connection: Connection, tables: list[str], enabled: bool) -> None:
    for table in tables:
        if enabled:
            connection.exec_driver_sql(f"ALTER TABLE public.{table} ENABLE ROW LEVEL SECURITY")
            connection.exec_driver_sql(f"ALTER TABLE public.{table} FORCE ROW LEVEL SECURITY")
        else:
            connection.exec_driver_sql(f"ALTER TABLE public.{table} DISABLE ROW LEVEL SECURITY")


def _foreign_keys(connection: Connection) -> list[tuple[str, str, str]]:
    """(table, name, definition) of every foreign key in public, with unqualified names."""
    connection.exec_driver_sql("SET LOCAL search_path = public")
    rows = connection.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace "
            "ORDER BY 1, 2"
        )
    )
    return [(table, name, definition) for table, name, definition in rows]


def _stored_columns(connection: Connection, table: str) -> list[str]:
    """The columns of public.``table`` that are not generated, in order."""
    rows = connection.execute(
        text(
            "SELECT quote_ident(attname) FROM pg_attribute "
            "WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped "
            "AND attgenerated = '' ORDER BY attnum"
        ),
        {"table": f"public.{table}"},
    )
    return [name for (name,) in rows]


def _copy_to_norls(connection: Connection, tables: list[str]) -> None:
    """Schema ``norls``: the same tables, rows, indexes and foreign keys, without RLS."""
    foreign_keys = _foreign_keys(connection)
    connection.exec_driver_sql("CREATE SCHEMA norls")
    # Scans start at the first page, so each copy keeps its original's physical order.
    connection.exec_driver_sql("SET LOCAL synchronize_seqscans = off")
    for table in tables:
        connection.exec_driver_sql(
            f"CREATE TABLE norls.{table} (LIKE public.{table} INCLUDING ALL)"
        )
        columns = ", ".join(_stored_columns(connection, table))  # generated ones recompute
        connection.exec_driver_sql(
            f"INSERT INTO norls.{table} ({columns}) OVERRIDING SYSTEM VALUE "
            f"SELECT {columns} FROM public.{table}"
        )
    connection.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('norls.{AUDIT}', 'id'), "
        f"(SELECT max(id) FROM norls.{AUDIT}))"
    )
    connection.exec_driver_sql("SET LOCAL search_path = norls")
    for table, name, definition in foreign_keys:
        connection.exec_driver_sql(
            f'ALTER TABLE norls.{table} ADD CONSTRAINT "{name}" {definition}'
        )
    connection.exec_driver_sql("SET LOCAL search_path = public")


def _write_marker(connection: Connection, rows_per_tenant: int) -> None:
    connection.exec_driver_sql(
        "CREATE TABLE norls.bench_marker (loader_version int NOT NULL, revision text NOT NULL, "
        "tenants int NOT NULL, rows_per_tenant int NOT NULL, audit_max_id bigint NOT NULL, "
        "loaded_at timestamptz NOT NULL DEFAULT now())"
    )
    connection.execute(
        text(
            "INSERT INTO norls.bench_marker "
            "(loader_version, revision, tenants, rows_per_tenant, audit_max_id) "
            f"SELECT :version, :revision, count(*), :rows, (SELECT max(id) FROM norls.{AUDIT}) "
            "FROM norls.tenants"
        ),
        {"version": LOADER_VERSION, "revision": migrations_head(), "rows": rows_per_tenant},
    )


def policies(engine: Engine) -> list[tuple[Any, ...]]:
    """Every policy on public tables, for before/after comparison."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check "
                "FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2"
            )
        )
        return [tuple(row) for row in rows]


def load(engine: Engine, tenants: int = TENANTS, rows_per_tenant: int = ROWS_PER_TENANT) -> None:
    """Load a freshly migrated bench database (see the module docstring), then ANALYZE."""
    rng = random.Random(SEED)
    fixtures = make_tenants(rng, tenants)
    before = policies(engine)
    with engine.begin() as connection:
        tables = tenant_tables(connection)
        _set_rls(connection, tables, enabled=False)
        note(f"loading {tenants} tenants and {tenants * rows_per_tenant} audit rows")
        _copy_fixtures(connection, fixtures, rng)
        _copy_audit(connection, fixtures, rows_per_tenant, rng)
        note("copying to schema norls")
        _copy_to_norls(connection, tables)
        _set_rls(connection, tables, enabled=True)
        _write_marker(connection, rows_per_tenant)
    if policies(engine) != before:
        raise RuntimeError("the load changed the RLS policies")
    verify_rls(engine)
    vacuum_analyze(engine)


def vacuum_analyze(engine: Engine) -> None:
    """VACUUM (ANALYZE) every tenant table in both schemas."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tenant_tables(connection):
            for schema in SCHEMAS:
                connection.exec_driver_sql(f"VACUUM (ANALYZE) {schema}.{table}")


def verify_rls(engine: Engine) -> None:
    """Raise unless every public tenant table has RLS enabled and forced, and norls has none."""
    with engine.connect() as connection:
        tables = tenant_tables(connection)
        rows = connection.execute(
            text(
                "SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname IN ('public', 'norls') "
                "AND c.relname = ANY(:tables)"
            ),
            {"tables": tables},
        ).all()
    flags = {(schema, table): (enabled, forced) for schema, table, enabled, forced in rows}
    if not set(LOADED_TABLES) <= set(tables):
        raise RuntimeError("the schema lacks a table the benchmark loads")
    for table in tables:
        if flags.get(("public", table)) != (True, True):
            raise RuntimeError(f"public.{table} does not have RLS enabled and forced")
        if flags.get(("norls", table)) != (False, False):
            raise RuntimeError(f"norls.{table} is missing or has RLS")


def marker(engine: Engine) -> dict[str, Any] | None:
    """The load marker, or None if the database was never (completely) loaded."""
    with engine.connect() as connection:
        if not connection.execute(text("SELECT to_regclass('norls.bench_marker')")).scalar():
            return None
        row = connection.execute(text("SELECT * FROM norls.bench_marker")).mappings().first()
        return dict(row) if row else None


def is_loaded(engine: Engine, tenants: int = TENANTS, rows: int = ROWS_PER_TENANT) -> bool:
    """Whether the database holds a complete load of this size by this loader version."""
    found = marker(engine)
    if found is None:
        return False
    expected = {
        "loader_version": LOADER_VERSION,
        "revision": migrations_head(),
        "tenants": tenants,
        "rows_per_tenant": rows,
    }
    if any(found[key] != value for key, value in expected.items()):
        return False
    with engine.connect() as connection:
        counted = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM norls.tenants), "
                f"(SELECT count(*) FROM norls.{AUDIT} WHERE id <= :mark)"
            ),
            {"mark": found["audit_max_id"]},
        ).one()
    return tuple(counted) == (tenants, tenants * rows)


def tenant_installations(engine: Engine) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant id, installation id) of every loaded tenant, in a stable order."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT tenant_id, id FROM norls.installations ORDER BY tenant_id")
        )
        return [(tenant, installation) for tenant, installation in rows]


def purge_bench_rows(engine: Engine) -> int:
    """Delete the rows earlier runs inserted, in both schemas: audit rows with ids above
    the load's, and every row of the tables the load leaves empty (TRUNCATE).

    The owner is subject to FORCE RLS on public, so it deletes audit rows tenant by tenant
    with the tenant set, in one server-side loop. Returns how many norls rows were removed.
    """
    found = marker(engine)
    if found is None:
        return 0
    mark = int(found["audit_max_id"])
    with engine.begin() as connection:
        empty = sorted(set(tenant_tables(connection)) - set(LOADED_TABLES))
        if empty:
            listed = ", ".join(f"{schema}.{table}" for table in empty for schema in SCHEMAS)
            connection.exec_driver_sql(f"TRUNCATE {listed}")
        removed = connection.execute(
            text(f"DELETE FROM norls.{AUDIT} WHERE id > :mark"), {"mark": mark}
        ).rowcount
        connection.exec_driver_sql(
            "DO $$ DECLARE t uuid; BEGIN "
            "FOR t IN SELECT id FROM norls.tenants LOOP "
            "PERFORM set_config('app.tenant_id', t::text, true); "
            f"DELETE FROM public.{AUDIT} WHERE tenant_id = t AND id > {mark}; "
            "END LOOP; END $$"
        )
    return removed
