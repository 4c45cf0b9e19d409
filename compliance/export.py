"""Workspace export: everything held for one tenant as JSON-safe data, secrets withheld.

``build_export`` reads every tenant table of ``models`` (a table with a ``tenant_id``
column, and ``tenants`` itself) in one tenant session, so Row-Level Security guarantees
no other tenant's row can appear. Binary columns hold ciphertext, wrapped keys or
hashes; each one must be declared below, and an undeclared one stops the export
(fail closed) rather than leak bytes nobody has thought about. Sealed sync-log details
are the tenant's own activity log, so the archive holds them opened (``OPENED``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import LargeBinary, Row, Table, select
from sqlalchemy.orm import Session

import models
from keys.aead import InvalidCiphertext
from keys.data_keys import KeyService
from models.db import as_tenant_id
from models.sync_attempts import attempt_details
from runtime import Runtime

FORMAT = "tandem-workspace-export"
FORMAT_VERSION = 1
SEALED = {"sealed": True}

# Tables left out of the export entirely, with why. None: every tenant table is exported.
EXCLUDED_TABLES: dict[str, str] = {}

# Columns replaced by {"sealed": true} (or null when empty): the holder learns that a
# value is held, never the plaintext or the ciphertext.
SEALED_COLUMNS: dict[tuple[str, str], str] = {
    ("installations", "shared_secret"): "the Connect sharedSecret, sealed under its DEK",
    ("connections", "access_token"): "an OAuth access token, sealed under its DEK",
    ("connections", "refresh_token"): "an OAuth refresh token, sealed under its DEK",
    ("forge_installations", "system_token"): "a Forge app system token, sealed under its DEK",
    ("raw_responses", "body"): "a raw Jira response, sealed under the tenant's log key",
    ("accounts", "totp_secret"): "a dashboard account's TOTP secret, sealed under its DEK",
}

# Columns left out. data_keys rows are reduced to their ids, owners and dates.
DROPPED_COLUMNS: dict[tuple[str, str], str] = {
    ("data_keys", "wrapped"): "the data key wrapped by a KEK: key material, never exported",
    ("data_keys", "kek_id"): "which internal KEK wraps the key: infrastructure, not data",
    ("accounts", "password_hash"): "a dashboard account's argon2id password hash: a credential",
    ("accounts", "email_key"): "the keyed hash that finds the account at sign-in: infrastructure",
    ("account_tokens", "token_hash"): "the digest of an invitation or reset link: a credential",
    ("sync_attempts", "sealed_details"): (
        "the detailed sync log sealed under the tenant's log key: exported opened, as the "
        "attempt's details and error"
    ),
}

# Binary columns that are not secret and are exported as hex.
HEX_COLUMNS: dict[tuple[str, str], str] = {
    ("audit_events", "prev_hash"): "hash chain link: lets the holder verify the trail",
    ("audit_events", "row_hash"): "hash chain link: lets the holder verify the trail",
}


class UndeclaredBinaryColumn(RuntimeError):
    """A binary column has no declaration here; the export refuses to guess."""


def tenant_column(table: Table) -> str | None:
    """The column that names a row's tenant (``id`` for ``tenants``), or None."""
    if table.name == "tenants":
        return "id"
    return "tenant_id" if "tenant_id" in table.c else None


def tenant_tables() -> list[Table]:
    """Every tenant table of the models, by name."""
    tables = [t for t in models.Base.metadata.tables.values() if tenant_column(t) is not None]
    return sorted(tables, key=lambda table: table.name)


def exported_tables() -> list[Table]:
    """The tenant tables the export holds (all but the declared exclusions)."""
    return [table for table in tenant_tables() if table.name not in EXCLUDED_TABLES]


def json_safe(value: Any) -> Any:
    """A column value as JSON: ids and numbers as strings where JSON has no type."""
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _column_value(table: str, column: Any, value: Any) -> Any:
    key = (table, column.name)
    if key in SEALED_COLUMNS:
        return None if value is None else dict(SEALED)
    if key in HEX_COLUMNS:
        return None if value is None else bytes(value).hex()
    if isinstance(column.type, LargeBinary):
        raise UndeclaredBinaryColumn(f"{table}.{column.name} is binary and not declared")
    return json_safe(value)


def _visible_columns(table: Table) -> list[Any]:
    return [c for c in table.c if (table.name, c.name) not in DROPPED_COLUMNS]


def _opened_attempt(session: Session, keys: KeyService, row: Row[Any]) -> dict[str, Any]:
    """A sync attempt's sealed detailed part, opened (marked sealed if it cannot be)."""
    try:
        details, error = attempt_details(session, keys, row)
    except InvalidCiphertext:
        return {"details": dict(SEALED), "error": None}
    return {"details": details, "error": error}


# Tables whose rows carry sealed values the archive shows opened, and how.
OPENED = {"sync_attempts": _opened_attempt}


def build_export(runtime: Runtime, tenant_id: uuid.UUID | str) -> dict[str, Any]:
    """The tenant's archive: metadata plus one section (a list of rows) per table."""
    tenant = as_tenant_id(tenant_id)
    tables = exported_tables()
    sections: dict[str, list[dict[str, Any]]] = {}
    with runtime.db.tenant_session(tenant) as session:
        for table in tables:
            columns = _visible_columns(table)
            query = (
                select(table)
                .where(table.c[tenant_column(table)] == tenant)
                .order_by(*table.primary_key.columns)
            )
            opener = OPENED.get(table.name)
            rows = []
            for row in session.execute(query):
                values = row._mapping
                exported = {c.name: _column_value(table.name, c, values[c]) for c in columns}
                if opener is not None:
                    exported |= opener(session, runtime.keys, row)
                rows.append(exported)
            sections[table.name] = rows
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tenant_id": str(tenant),
        "generated_at": datetime.now(UTC).isoformat(),
        "tables": [table.name for table in tables],
        "row_counts": {name: len(rows) for name, rows in sections.items()},
        "withheld": _withheld(),
        "data": sections,
    }


def _withheld() -> dict[str, dict[str, str]]:
    """What the archive leaves out or masks, and why (part of the archive itself)."""
    return {
        "excluded_tables": dict(EXCLUDED_TABLES),
        "sealed_columns": {f"{t}.{c}": why for (t, c), why in SEALED_COLUMNS.items()},
        "dropped_columns": {f"{t}.{c}": why for (t, c), why in DROPPED_COLUMNS.items()},
    }
