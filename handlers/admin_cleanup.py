"""Admin pages: Disconnect & clean up. First a dry run (a preview: what would be
removed, per site and kind), then the real run, which stops the sync, strips every
label, link property and attribution line Tandem left, and disconnects the connected
sites it used; a progress bar follows it (compliance/cleanup*.py do the work)."""

from __future__ import annotations

import uuid

from flask import redirect, request
from flask.typing import ResponseReturnValue

from auth.roles import principal
from compliance.cleanup_jobs import start_cleanup
from compliance.cleanup_markers import KINDS
from compliance.cleanup_pages import count_rows, current_run, workspace_run
from compliance.cleanup_runs import FINAL, WORKSPACE, Scope
from handlers.admin_pages import admin_route, answer, form_value, render, surface, tenant_runtime
from sync.integration_admin import list_integrations

KIND_LABELS = {
    "labels": "Sync labels",
    "properties": "Link properties",
    "attributions": "Attribution lines",
}


def _page(
    run_id: str | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    problem: str | None = None,
) -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    shown = run_id or current_run(rt.redis, tenant_id)
    run = workspace_run(rt.redis, tenant_id, shown) if shown else None
    if run_id and run is None and status == 200:
        status, problem = 404, "No such clean-up run in this workspace."
    counts = None
    if run is not None:
        counts = count_rows(run["planned"] if run["dry_run"] else run["removed"])
    return render(
        "admin/cleanup.html",
        status,
        title="Disconnect & clean up",
        run=run,
        final=FINAL,
        counts=counts,
        kinds=KINDS,
        kind_labels=KIND_LABELS,
        integrations=list_integrations(rt, tenant_id),
        errors=errors or {},
        problem=problem,
    )


@admin_route("/cleanup")
def cleanup() -> ResponseReturnValue:
    return _page(request.args.get("run") or None)


def _scope(raw: str) -> Scope | None:
    if raw == "workspace":
        return WORKSPACE
    try:
        return Scope("integration", uuid.UUID(raw))
    except ValueError:
        return None


@admin_route("/cleanup", role="admin", methods=("POST",))
def start() -> ResponseReturnValue:
    scope = _scope(form_value("scope", 80))
    if scope is None:
        return _page(None, {"scope": "choose the whole workspace or one integration"}, 400)
    dry_run = request.form.get("dry_run") != "no"
    if not dry_run and request.form.get("confirm") != "yes":
        preview = form_value("run", 40) or None  # the preview the form was on
        return _page(
            preview,
            {"confirm": "tick the box to confirm: this removes Tandem's marks for good"},
            400,
        )
    rt, tenant_id = tenant_runtime()
    try:
        run_id, started = start_cleanup(rt, tenant_id, scope, dry_run, principal().actor)
    except LookupError:
        return _page(None, {"scope": "no such integration in this workspace"}, 404)
    if not started:
        return _page(
            run_id, status=409, problem="A clean-up of this workspace is already under way."
        )
    return redirect(surface().url("/cleanup", run=run_id), code=303)


@admin_route("/cleanup/runs/<run_id>")
def run_progress(run_id: str) -> ResponseReturnValue:
    """A run's progress as JSON (the page polls it)."""
    rt, tenant_id = tenant_runtime()
    view = workspace_run(rt.redis, tenant_id, run_id)
    if view is None:
        return answer({"error": "Not Found", "message": "no such clean-up run"}, 404)
    return answer(view)
