"""Acceptance 5: a secret sealed through the normal path leaves no trace in a full dump;
neither do sealed sync-log details and kept raw Jira responses."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url

from compliance.retention import set_retention
from models.connections import create_connection, store_tokens
from models.installations import create_installation
from models.raw_responses import store_raw_responses
from models.sync_attempts import record_attempt
from runtime import Runtime


def _dump(admin_url: str, database: str) -> str:
    """pg_dump the whole test database as a role that bypasses RLS (so every row is in it)."""
    url = make_url(admin_url)
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed (it ships with the PostgreSQL client)"
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    command = [
        pg_dump,
        "--data-only",
        "--host",
        url.host or "127.0.0.1",
        "--port",
        str(url.port or 5432),
        "--username",
        url.username or "postgres",
        database,
    ]
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout


def test_sealed_secrets_do_not_appear_in_pg_dump(runtime: Runtime, new_tenant) -> None:
    marker = uuid.uuid4().hex
    secret = f"shared-secret-{marker}"
    access, refresh = f"access-{marker}", f"refresh-{marker}"
    client_key = f"client-key-{marker}"
    tenant_id = new_tenant("dump")
    with runtime.db.tenant_session(tenant_id) as session:
        create_installation(session, runtime.keys, client_key, "https://d", secret)
        connection = create_connection(session, runtime.keys, f"cloud-{marker}", "https://d")
        store_tokens(
            session, runtime.keys, connection, access, refresh, datetime.now(UTC) + timedelta(1)
        )

    database = make_url(runtime.settings.database_url).database
    dump = _dump(os.environ["DATABASE_ADMIN_URL"], database)
    assert client_key in dump, "the dump must contain the rows (else this test proves nothing)"
    assert f"cloud-{marker}" in dump
    for plaintext in (secret, access, refresh):
        for form in (
            plaintext,
            plaintext.encode().hex(),
            base64.b64encode(plaintext.encode()).decode(),
        ):
            assert form not in dump, f"plaintext found in dump: {plaintext}"


def test_sealed_sync_logs_and_raw_responses_do_not_appear_in_pg_dump(
    runtime: Runtime, new_tenant
) -> None:
    marker = uuid.uuid4().hex
    tenant_id = new_tenant("dump-logs")
    with runtime.db.tenant_session(tenant_id) as session:
        set_retention(session, seal_sync_logs=True)
    runtime.log_policies.forget(tenant_id)
    for outcome, error in (("failed", f"error-{marker}"), ("ok", None)):
        record_attempt(
            runtime.db,
            tenant_id,
            runtime.log_policies,
            issue_key=f"{outcome}-{marker}",
            action="update",
            outcome=outcome,
            error=error,
            details={"note": f"details-{outcome}-{marker}"},
            duration_ms=1,
        )
    policy = runtime.log_policies.get(tenant_id)
    assert policy.log_key_id is not None
    body = f'{{"summary": "raw-{marker}"}}'.encode()
    store_raw_responses(
        runtime.db, runtime.keys, tenant_id, policy.log_key_id, [("GET /rest/api/3/issue/1", body)]
    )

    with runtime.db.tenant_session(tenant_id) as session:
        held = session.execute(
            text(
                "SELECT (SELECT count(sealed_details) FROM sync_attempts),"
                " (SELECT count(*) FROM raw_responses)"
            )
        ).one()
    assert tuple(held) == (2, 1), "both details and the body are held, sealed"

    database = make_url(runtime.settings.database_url).database
    dump = _dump(os.environ["DATABASE_ADMIN_URL"], database)
    assert f"failed-{marker}" in dump and f"ok-{marker}" in dump, "the attempts are dumped"
    assert "GET /rest/api/3/issue/1" in dump, "the raw response is dumped"
    for plaintext in (
        f"error-{marker}",
        f"details-failed-{marker}",
        f"details-ok-{marker}",
        f"raw-{marker}",
    ):
        for form in (
            plaintext,
            plaintext.encode().hex(),
            base64.b64encode(plaintext.encode()).decode(),
        ):
            assert form not in dump, f"plaintext found in dump: {plaintext}"
