"""Export archives on disk: gzip JSON, mode 0600, one directory per tenant, an
unguessable file name, and an audit event with the row counts (never the content)."""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from compliance.export import build_export
from models.audit import record_audit
from models.db import as_tenant_id
from runtime import Runtime

SUFFIX = ".json.gz"
EXPORT_LIFETIME_SECONDS = 24 * 3600
_NAME = re.compile(r"^[A-Za-z0-9_-]{43}\.json\.gz$")


@dataclass(frozen=True)
class ExportFile:
    """A written archive: its tenant, file name and the row counts it holds."""

    tenant_id: uuid.UUID
    name: str
    row_counts: dict[str, int]


def archive_path(export_dir: str | Path, tenant_id: uuid.UUID, name: str) -> Path:
    """Where a tenant's archive lives; refuses names that are not ours (no traversal)."""
    if not _NAME.match(name):
        raise FileNotFoundError("not an export file name")
    return Path(export_dir) / str(as_tenant_id(tenant_id)) / name


def write_export(
    runtime: Runtime, tenant_id: uuid.UUID | str, export_dir: str | Path
) -> ExportFile:
    """Build the tenant's archive, write it (0600, atomically) and audit its creation."""
    tenant = as_tenant_id(tenant_id)
    archive = build_export(runtime, tenant)
    name = secrets.token_urlsafe(32) + SUFFIX
    path = archive_path(export_dir, tenant, name)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
            out.write(json.dumps(archive, ensure_ascii=False, sort_keys=True).encode())
        os.replace(partial, path)
        counts = dict(archive["row_counts"])
        with runtime.db.tenant_session(tenant) as session:
            record_audit(session, tenant, "system", "export.created", subject=None, rows=counts)
    except BaseException:
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise
    return ExportFile(tenant, name, counts)


def is_expired(path: Path, now: float | None = None) -> bool:
    """Whether an archive is older than its download lifetime."""
    age = (time.time() if now is None else now) - path.stat().st_mtime
    return age > EXPORT_LIFETIME_SECONDS


def purge_expired_exports(export_dir: str | Path, now: float | None = None) -> int:
    """Delete archives past their lifetime; how many were deleted."""
    removed = 0
    for path in Path(export_dir).glob(f"*/*{SUFFIX}"):
        if is_expired(path, now):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
