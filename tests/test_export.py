"""Workspace export: every tenant table, nothing of another tenant, no secret; the job,
the status and the signed, time-limited download link over HTTP."""

from __future__ import annotations

import base64
import gzip
import json
import secrets
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from rq import Queue, SimpleWorker
from sqlalchemy import Engine, select, text

import runtime as runtime_module
from app import create_app
from compliance import export as export_module
from compliance.export import build_export
from compliance.export_files import archive_path, purge_expired_exports, write_export
from compliance.export_links import LINK_SALT
from compliance.export_requests import QUEUE
from compliance.notice_recipients import set_contact_email
from config import DEFAULT_EXPORT_DIR, ConfigError, load_settings
from models.audit import AuditEvent
from models.connections import Connection, store_tokens
from runtime import Runtime
from tests.connect_fixtures import BASE_URL, ConnectWorld
from tests.support.connect_tokens import secret_token
from tests.test_tenant_isolation import Seeded, seed, tenant_tables

ACCESS = "access-" + secrets.token_urlsafe(16)
REFRESH = "refresh-" + secrets.token_urlsafe(16)


@pytest.fixture
def seeded(runtime: Runtime, new_tenant) -> tuple[Seeded, Seeded]:
    """Two tenants with rows in every tenant table; the first has distinctive tokens."""
    a, b = seed(runtime, new_tenant, "alpha"), seed(runtime, new_tenant, "beta")
    with runtime.db.tenant_session(a.tenant_id) as session:
        connection = session.get(Connection, a.connection_id)
        expires = datetime.now(UTC) + timedelta(hours=1)
        store_tokens(session, runtime.keys, connection, ACCESS, REFRESH, expires)
    return a, b


def _as_tenant(connection, tenant: uuid.UUID) -> None:
    """Row-Level Security is forced on the owner too: read as the tenant, by hand."""
    connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})


def _rows(owner_engine: Engine, table: str, column: str, tenant: uuid.UUID) -> list[dict]:
    with owner_engine.begin() as connection:
        _as_tenant(connection, tenant)
        result = connection.execute(
            text(f"SELECT * FROM {table} WHERE {column} = :t"), {"t": tenant}
        )
        return [dict(row._mapping) for row in result]


def _binary_columns(owner_engine: Engine) -> set[tuple[str, str]]:
    with owner_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = 'bytea'"
            )
        )
        return {(t, c) for t, c in rows}


def test_the_export_covers_every_tenant_table_minus_declared_exclusions(
    seeded, runtime: Runtime, owner_engine: Engine
) -> None:
    a, _ = seeded
    archive = build_export(runtime, a.tenant_id)
    catalog = {table for table, _ in tenant_tables(owner_engine)}
    assert catalog, "the catalog lists tenant tables"
    assert set(archive["tables"]) == catalog - set(export_module.EXCLUDED_TABLES)
    assert set(archive["data"]) == set(archive["tables"])
    for table, reason in export_module.EXCLUDED_TABLES.items():
        assert table in catalog and reason.strip(), table
    assert archive["format_version"] == 1
    assert archive["tenant_id"] == str(a.tenant_id)
    assert datetime.fromisoformat(archive["generated_at"]) <= datetime.now(UTC)


def test_every_binary_column_is_declared(owner_engine: Engine) -> None:
    # A new sealed column must be classified here, or the export refuses to run.
    declared = (
        set(export_module.SEALED_COLUMNS)
        | set(export_module.DROPPED_COLUMNS)
        | set(export_module.HEX_COLUMNS)
    )
    binary = _binary_columns(owner_engine)
    assert binary, "the schema has sealed columns"
    assert binary <= declared, binary - declared
    for reasons in (
        export_module.SEALED_COLUMNS,
        export_module.DROPPED_COLUMNS,
        export_module.HEX_COLUMNS,
    ):
        assert all(why.strip() for why in reasons.values())


def test_every_seeded_row_appears_and_nothing_of_the_other_tenant(
    seeded, runtime: Runtime, owner_engine: Engine
) -> None:
    a, b = seeded
    archive = build_export(runtime, a.tenant_id)
    document = json.dumps(archive)
    for table, column in tenant_tables(owner_engine):
        if table in export_module.EXCLUDED_TABLES:
            continue
        expected = _rows(owner_engine, table, column, a.tenant_id)
        exported = archive["data"][table]
        assert expected, f"the seed has no row in {table}"
        assert len(exported) == len(expected) == archive["row_counts"][table], table
        key = "id" if "id" in expected[0] else "key"
        assert {str(r[key]) for r in exported} == {str(r[key]) for r in expected}, table
        for row in exported:
            tenant_value = row["id"] if table == "tenants" else row["tenant_id"]
            assert tenant_value == str(a.tenant_id), table
    for foreign in (b.tenant_id, b.installation_id, b.connection_id, b.data_key_id, b.client_key):
        assert str(foreign) not in document
    assert "beta" not in document
    assert archive["data"]["installations"][0]["base_url"] == "https://alpha.atlassian.net"


def _sealed_values(owner_engine: Engine, tenant: uuid.UUID) -> list[bytes]:
    with owner_engine.begin() as connection:
        _as_tenant(connection, tenant)
        rows = connection.execute(
            text(
                "SELECT shared_secret FROM installations WHERE tenant_id = :t UNION ALL "
                "SELECT access_token FROM connections WHERE tenant_id = :t UNION ALL "
                "SELECT refresh_token FROM connections WHERE tenant_id = :t UNION ALL "
                "SELECT wrapped FROM data_keys WHERE tenant_id = :t UNION ALL "
                "SELECT body FROM raw_responses WHERE tenant_id = :t"
            ),
            {"t": tenant},
        )
        return [bytes(value) for (value,) in rows if value is not None]


def test_no_secret_and_no_ciphertext_appears(
    seeded, runtime: Runtime, owner_engine: Engine
) -> None:
    a, _ = seeded
    archive = build_export(runtime, a.tenant_id)
    document = json.dumps(archive)
    for plaintext in ("s3cret-alpha", ACCESS, REFRESH):
        assert plaintext not in document
    sealed = _sealed_values(owner_engine, a.tenant_id)
    assert len(sealed) >= 6, "shared secret, two tokens, data keys, a raw body"
    for value in sealed:
        for form in (
            value.hex(),
            base64.b64encode(value).decode(),
            base64.urlsafe_b64encode(value).decode().rstrip("="),
        ):
            assert form not in document
    installation = archive["data"]["installations"][0]
    assert installation["shared_secret"] == {"sealed": True}
    connection = archive["data"]["connections"][0]
    assert connection["access_token"] == connection["refresh_token"] == {"sealed": True}
    for key in archive["data"]["data_keys"]:
        assert "wrapped" not in key and "kek_id" not in key and key["id"]
    chained = archive["data"]["audit_events"][0]
    assert len(bytes.fromhex(chained["row_hash"])) == 32


def test_the_archive_file_is_private_and_its_creation_audited(
    seeded, runtime: Runtime, tmp_path: Path
) -> None:
    a, _ = seeded
    written = write_export(runtime, a.tenant_id, tmp_path)
    path = archive_path(tmp_path, a.tenant_id, written.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    archive = json.loads(gzip.decompress(path.read_bytes()))
    assert archive["tenant_id"] == str(a.tenant_id)
    assert len(written.name) > 40
    with runtime.db.tenant_session(a.tenant_id) as session:
        events = session.execute(
            select(AuditEvent).where(AuditEvent.action == "export.created")
        ).scalars()
        (event,) = list(events)
    assert event.details["rows"] == archive["row_counts"]
    assert "s3cret" not in json.dumps(event.details)
    with pytest.raises(FileNotFoundError):
        archive_path(tmp_path, a.tenant_id, "../" + written.name)
    assert purge_expired_exports(tmp_path) == 0
    assert purge_expired_exports(tmp_path, now=time.time() + 25 * 3600) == 1
    assert not path.exists()


# --- over HTTP -------------------------------------------------------------------------


@pytest.fixture
def world(settings, key_server, tmp_path: Path, monkeypatch) -> Iterator[ConnectWorld]:
    """An app with a secret key and an export directory; jobs use the app's runtime."""
    server, keys_url, signing_key, kid = key_server
    app = create_app(
        replace(
            settings,
            base_url=BASE_URL,
            connect_install_keys_url=keys_url,
            secret_key=secrets.token_urlsafe(32),
            export_dir=str(tmp_path / "exports"),
        )
    )
    app_runtime = app.extensions["tandem"]
    monkeypatch.setattr(runtime_module, "_process_runtime", app_runtime)
    Queue(QUEUE, connection=app_runtime.redis).empty()
    yield ConnectWorld(app, app.test_client(), server, signing_key, kid)
    app_runtime.close()


def _auth(client_key: str, secret: str, method: str, path: str) -> dict[str, str]:
    return {"Authorization": f"JWT {secret_token(secret, client_key, method, path)}"}


def _run_jobs(world: ConnectWorld) -> None:
    redis = world.app.extensions["tandem"].redis
    SimpleWorker([Queue(QUEUE, connection=redis)], connection=redis).work(burst=True)


def _status(world: ConnectWorld, client_key: str, secret: str, job_id: str):
    path = f"/connect/exports/{job_id}"
    return world.client.get(path, headers=_auth(client_key, secret, "GET", path))


def _start(world: ConnectWorld, client_key: str, secret: str):
    path = "/connect/exports"
    return world.client.post(path, headers=_auth(client_key, secret, "POST", path))


def test_start_poll_and_download_an_export(world: ConnectWorld) -> None:
    _, client_key, secret = world.install()
    tenant = world.app.extensions["tandem"].db.directory_lookup("connect_client_key", client_key)
    started = _start(world, client_key, secret)
    assert started.status_code == 202
    job_id = started.get_json()["job_id"]
    assert started.get_json()["status_url"] == f"{BASE_URL}/connect/exports/{job_id}"
    assert _status(world, client_key, secret, job_id).get_json()["state"] == "queued"
    _run_jobs(world)
    status = _status(world, client_key, secret, job_id)
    assert status.status_code == 200
    body = status.get_json()
    assert body["state"] == "finished"
    assert body["rows"]["installations"] == 1
    link = body["download_url"]
    assert link.startswith(f"{BASE_URL}/exports/")
    download = world.client.get(link.removeprefix(BASE_URL))
    assert download.status_code == 200
    assert download.mimetype == "application/gzip"
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Disposition"].startswith("attachment")
    archive = json.loads(gzip.decompress(download.data))
    assert archive["tenant_id"] == str(tenant)
    assert secret not in json.dumps(archive)
    unauthenticated = world.client.post("/connect/exports")
    assert unauthenticated.status_code == 401


def test_tampered_expired_and_missing_links_are_refused(world: ConnectWorld) -> None:
    _, client_key, secret = world.install()
    job_id = _start(world, client_key, secret).get_json()["job_id"]
    _run_jobs(world)
    link = _status(world, client_key, secret, job_id).get_json()["download_url"]
    path = link.removeprefix(BASE_URL)
    token = path.removeprefix("/exports/")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    refused = world.client.get(f"/exports/{tampered}")
    assert refused.status_code == 403
    assert "not issued by Tandem" in refused.get_json()["message"]
    rt = world.app.extensions["tandem"]

    class DayAndAMinuteAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 24 * 3600 - 60

    payload = URLSafeTimedSerializer(rt.settings.secret_key, salt=LINK_SALT).loads(token)
    old = URLSafeTimedSerializer(
        rt.settings.secret_key, salt=LINK_SALT, signer=DayAndAMinuteAgo
    ).dumps(payload)
    expired = world.client.get(f"/exports/{old}")
    assert expired.status_code == 410
    assert "expired" in expired.get_json()["message"]
    other_key = URLSafeTimedSerializer("another-key" * 4, salt=LINK_SALT).dumps(payload)
    assert world.client.get(f"/exports/{other_key}").status_code == 403
    archive_path(rt.settings.export_dir, uuid.UUID(payload["t"]), payload["f"]).unlink()
    assert world.client.get(path).status_code == 404


def test_another_tenants_installation_cannot_see_the_job(world: ConnectWorld) -> None:
    _, key_a, secret_a = world.install()
    _, key_b, secret_b = world.install()
    job_id = _start(world, key_a, secret_a).get_json()["job_id"]
    _run_jobs(world)
    assert _status(world, key_a, secret_a, job_id).status_code == 200
    foreign = _status(world, key_b, secret_b, job_id)
    assert foreign.status_code == 404
    assert "download_url" not in foreign.get_json()
    assert _status(world, key_a, secret_a, "export-" + str(uuid.uuid4())).status_code == 404
    assert _status(world, key_a, secret_a, "not-an-export").status_code == 404


def test_export_dir_is_validated(tmp_path: Path) -> None:
    base = {"DATABASE_URL": "postgresql://x/y", "TANDEM_ENV": "test"}
    assert Path(load_settings(base).export_dir).is_absolute()
    assert load_settings(base).export_dir == str(DEFAULT_EXPORT_DIR)
    chosen = tmp_path / "archives"
    assert load_settings({**base, "EXPORT_DIR": str(chosen)}).export_dir == str(chosen)
    relative = load_settings({**base, "EXPORT_DIR": "var/exports"}).export_dir
    assert Path(relative).is_absolute() and relative.endswith("var/exports")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="EXPORT_DIR must be a directory"):
        load_settings({**base, "EXPORT_DIR": str(a_file)})


def test_the_export_holds_the_workspace_contact_address(runtime: Runtime, new_tenant) -> None:
    tenant = new_tenant("reachable")
    with runtime.db.tenant_session(tenant) as session:
        set_contact_email(session, "owner@reachable.example", actor="test")
    (row,) = build_export(runtime, tenant)["data"]["tenants"]
    assert row["contact_email"] == "owner@reachable.example"
    assert row["name"] == "reachable"
