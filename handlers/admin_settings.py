"""Admin pages: workspace settings (retention windows, sync logs on or off, log sealing,
the contact address for workspace notices)."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from auth.roles import principal
from compliance.workspace_settings import (
    SettingRefused,
    WorkspaceSettings,
    read_settings,
    save_settings,
)
from handlers.admin_pages import admin_route, back_to, form_value, render, tenant_runtime


def _page(settings: WorkspaceSettings, errors: dict[str, str], status: int = 200):
    return render("admin/settings.html", status, title="Settings", settings=settings, errors=errors)


@admin_route("/settings")
def settings() -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    return _page(read_settings(rt, tenant_id), {})


def _days(name: str, errors: dict[str, str]) -> int:
    raw = form_value(name, 10)
    if not raw.isdigit():
        errors[name] = "a whole number of days"
        return 0
    return int(raw)


@admin_route("/settings", role="admin", methods=("POST",))
def save() -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    errors: dict[str, str] = {}
    raw_days, log_days = _days("raw_response_days", errors), _days("sync_log_days", errors)
    posted = WorkspaceSettings(
        raw_days,
        log_days,
        request.form.get("sync_logs_enabled") == "yes",
        request.form.get("seal_sync_logs") == "yes",
        form_value("contact_email", 300),
    )
    if not errors:
        try:
            save_settings(
                rt,
                tenant_id,
                principal().actor,
                posted.raw_response_days,
                posted.sync_log_days,
                posted.sync_logs_enabled,
                posted.seal_sync_logs,
                posted.contact_email,
            )
        except SettingRefused as error:
            errors[error.field] = str(error)
    if errors:
        return _page(posted, errors, 400)
    return back_to("/settings", "settings-saved")
