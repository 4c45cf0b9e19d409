"""Admin pages: delete the account (the whole workspace). Asking needs the owner and the
workspace's name typed as confirmation; the deletion then waits out the grace period
(a countdown on the page) and any admin may cancel it until then
(compliance/workspace_deletion.py; the contact address is told either way)."""

from __future__ import annotations

import hmac

from flask.typing import ResponseReturnValue

from auth.roles import principal
from compliance.deletion_status import deletion_status
from compliance.workspace_deletion import cancel_workspace_deletion, request_workspace_deletion
from handlers.admin_pages import admin_route, back_to, form_value, render, tenant_runtime


def _page(errors: dict[str, str] | None = None, status: int = 200, problem: str | None = None):
    rt, tenant_id = tenant_runtime()
    return render(
        "admin/deletion.html",
        status,
        title="Delete account",
        deletion=deletion_status(rt, tenant_id),
        errors=errors or {},
        problem=problem,
    )


@admin_route("/deletion")
def deletion() -> ResponseReturnValue:
    return _page()


@admin_route("/deletion", role="owner", methods=("POST",))
def request_deletion() -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    typed = form_value("confirm_name", 300)
    name = deletion_status(rt, tenant_id).workspace_name
    if not typed or not hmac.compare_digest(typed.encode(), name.encode()):
        return _page({"confirm_name": "type the workspace's name exactly to confirm"}, 400)
    request_workspace_deletion(rt, tenant_id, principal().actor)
    return back_to("/deletion", "deletion-requested")


@admin_route("/deletion/cancel", role="admin", methods=("POST",))
def cancel_deletion() -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    if not cancel_workspace_deletion(rt, tenant_id, principal().actor):
        return _page(status=409, problem="No deletion is scheduled.")
    return back_to("/deletion", "deletion-cancelled")
