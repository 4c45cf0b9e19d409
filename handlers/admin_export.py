"""Admin pages: export everything Tandem holds for the workspace (machine-readable JSON,
compliance/export.py): start one, follow it, download it through a signed link valid
for a day."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from auth.roles import principal
from compliance.export_files import EXPORT_LIFETIME_SECONDS
from compliance.export_history import latest_export, request_export
from compliance.export_requests import ExportStatus, download_token
from handlers.admin_pages import admin_route, answer, back_to, render, tenant_runtime

NO_KEY = "Exports need TANDEM_SECRET_KEY (it signs the download links): set it."


def _view(found: ExportStatus | None) -> dict[str, object]:
    rt, tenant_id = tenant_runtime()
    if found is None:
        return {"state": "none"}
    view: dict[str, object] = {"job_id": found.job_id, "state": found.state}
    token = download_token(rt, found, tenant_id) if rt.settings.secret_key else None
    if token is not None:
        view.update(
            download_url=f"/exports/{token}",
            rows=sum((found.rows or {}).values()),
            expires_in_hours=EXPORT_LIFETIME_SECONDS // 3600,
        )
    return view


@admin_route("/export")
def export() -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    problem = None if rt.settings.secret_key else NO_KEY
    return render(
        "admin/export.html",
        title="Export",
        export=_view(latest_export(rt, tenant_id)),
        problem=problem,
    )


@admin_route("/export/status")
def export_status() -> ResponseReturnValue:
    """The newest export as JSON (the page polls it while it runs)."""
    rt, tenant_id = tenant_runtime()
    return answer(_view(latest_export(rt, tenant_id)))


@admin_route("/export", role="admin", methods=("POST",))
def start_export() -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    if not rt.settings.secret_key:
        return render(
            "admin/export.html", 503, title="Export", export={"state": "none"}, problem=NO_KEY
        )
    request_export(rt, tenant_id, principal().actor)
    return back_to("/export", "export-started")
