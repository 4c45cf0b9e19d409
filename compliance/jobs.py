"""RQ jobs of the compliance work: thin wrappers that carry the tenant explicitly."""

from __future__ import annotations

from compliance.export_files import purge_expired_exports, write_export
from models.db import as_tenant_id
from runtime import process_runtime


def export_job(tenant_id: str) -> dict[str, object]:
    """Job: write the tenant's export archive; its file name and row counts."""
    runtime = process_runtime()
    written = write_export(runtime, as_tenant_id(tenant_id), runtime.settings.export_dir)
    return {"tenant_id": str(written.tenant_id), "file": written.name, "rows": written.row_counts}


def purge_exports_job() -> int:
    """Clock job: delete archives past their download lifetime."""
    return purge_expired_exports(process_runtime().settings.export_dir)
