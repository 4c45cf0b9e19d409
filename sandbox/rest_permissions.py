"""`POST /permissions/check` (Jira's bulk permission check) for global permissions, and
the control plane's switch for who administers a site.

Only global permissions are modelled: `ADMINISTER` for the site's admins (`Site.admins`,
seeded with Ada Lovelace), `USE` for every active person. Project permissions are
answered empty. Like Jira, unknown permission keys are a 400; without `accountId` the
caller's own permissions are checked. Connect apps may check any user from the server.
"""

from __future__ import annotations

from flask import Response, current_app, g, jsonify, request

from sandbox.context import sandbox_of
from sandbox.control import control
from sandbox.errors import JiraError
from sandbox.rest import rest

GLOBAL_PERMISSIONS = ("ADMINISTER", "USE", "SYSTEM_ADMIN", "USER_PICKER", "CREATE_SHARED_OBJECTS")


@rest.post("/permissions/check")
def check_permissions() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise JiraError(400, "The request body must be a JSON object.")
    wanted = body.get("globalPermissions") or []
    if not isinstance(wanted, list) or not all(isinstance(p, str) for p in wanted):
        raise JiraError(400, "globalPermissions must be a list of permission keys.")
    unknown = sorted(set(wanted) - set(GLOBAL_PERMISSIONS))
    if unknown:
        raise JiraError(400, f"Unrecognized permission keys: {', '.join(unknown)}")
    state = sandbox_of(current_app).state
    with state.lock:
        site = state.site(g.site)
        account = body.get("accountId") or g.actor
        user = site.users.get(account) if isinstance(account, str) else None
        if user is None:
            raise JiraError(404, f"Specified user does not exist: {account}")
        held = {"USE"} if user.account_type == "atlassian" else set()
        if account in site.admins:
            held |= {"ADMINISTER", "USER_PICKER", "CREATE_SHARED_OBJECTS"}
    granted = [p for p in wanted if p in held]
    return jsonify({"globalPermissions": granted, "projectPermissions": []})


@control.route("/sites/<site_name>/admins/<account_id>", methods=["PUT", "DELETE"])
def set_site_admin(site_name: str, account_id: str) -> Response:
    """What granting (PUT) or revoking (DELETE) Jira administration does in Atlassian's UI."""
    state = sandbox_of(current_app).state
    with state.lock:
        site = state.site(site_name)
        if account_id not in site.users:
            raise JiraError(404, f"Specified user does not exist: {account_id}")
        if request.method == "PUT":
            site.admins.add(account_id)
        else:
            site.admins.discard(account_id)
        return jsonify({"admins": sorted(site.admins)})
