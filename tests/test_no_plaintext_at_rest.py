"""Acceptance 5: a secret sealed through the normal path leaves no trace in a full dump."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import make_url

from models.connections import create_connection, store_tokens
from models.installations import create_installation
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
