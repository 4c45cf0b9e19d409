"""Admin pages: connected sites (remote Jira sites reached through OAuth): their status,
connecting another through Atlassian's consent (the existing flow, handlers/oauth.py),
and disconnecting one."""

from __future__ import annotations

import uuid

from flask import g
from flask.typing import ResponseReturnValue

from auth.roles import principal
from handlers.admin_pages import admin_route, back_to, render, surface, tenant_runtime
from handlers.oauth import consent_redirect, not_ready_reason
from jira.errors import JiraError
from sync.connection_admin import consent_installation, disconnect, list_connections


def _page(status: int = 200, problem: str | None = None) -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    return render(
        "admin/connections.html",
        status,
        title="Connected sites",
        connections=list_connections(rt, tenant_id),
        not_ready=not_ready_reason(),
        problem=problem,
    )


@admin_route("/connections")
def connections() -> ResponseReturnValue:
    return _page()


@admin_route("/connections/connect", role="admin", methods=("POST",))
def connect_site() -> ResponseReturnValue:
    """Start Atlassian's consent; the sites it reaches join this workspace."""
    reason = not_ready_reason()
    if reason is not None:
        return _page(503, reason)
    rt, tenant_id = tenant_runtime()
    in_jira = g.get("connect") if surface().in_jira else None  # the site the page is on
    installation_id = in_jira.installation_id if in_jira else consent_installation(rt, tenant_id)
    if installation_id is None:
        return _page(409, "Install Tandem on a Jira site first: connected sites sync with it.")
    return consent_redirect(tenant_id, installation_id, code=303)


@admin_route("/connections/<uuid:connection_id>/disconnect", role="admin", methods=("POST",))
def disconnect_site(connection_id: uuid.UUID) -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    try:
        disconnect(rt, tenant_id, connection_id, principal().actor)
    except LookupError as error:
        return _page(404, str(error))
    except JiraError as error:
        return _page(502, f"Jira could not be reached; nothing was disconnected ({error}).")
    return back_to("/connections", "connection-disconnected")
