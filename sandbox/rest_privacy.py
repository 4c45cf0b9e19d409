"""Atlassian's personal-data reporting API, `POST /app/report-accounts/`, served twice:
on a site's base URL for Connect apps (`Authorization: JWT`, qsh over the path relative
to the site) and at the api.atlassian.com stand-in's root for OAuth 2.0 apps
(`Authorization: Bearer`, scope `report:personal-data`). Each call passes restguard (it
is counted, may get an injected fault, must hold the scope) and is logged with its body.

At most 90 accounts per request (400 above it); `200 {"accounts": [{accountId, status}]}`
lists only the accounts needing action (`closed` or `updated`), `204` when none; every
answer carries `Cycle-Period` (days). `PUT /sandbox/personal-data {"rate_limit_next": n}`
makes the next n reports `429` with `Retry-After`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, g, jsonify, request

from sandbox import restguard
from sandbox.callers import OAUTH, Caller, connect_caller
from sandbox.context import sandbox_of
from sandbox.errors import JiraError
from sandbox.oauth_http import bearer_access
from sandbox.privacy import parse_report

if TYPE_CHECKING:
    from sandbox.core import Sandbox

privacy = Blueprint("sandbox_privacy", __name__)


def _sb() -> Sandbox:
    return sandbox_of(current_app)


@privacy.before_request
def _guard() -> Response | None:
    site = (request.view_args or {}).get("site")
    if site is not None:
        caller = connect_caller(_sb(), site)
    else:
        access = bearer_access(request.headers.get("Authorization"))
        caller = Caller(OAUTH, access.client_id, "", access.account_id, access.scopes)
    return restguard.admit(caller)


privacy.after_request(restguard.after_request)


@privacy.post("/jira/<site>/app/report-accounts/")
@privacy.post("/app/report-accounts/")
def report_accounts(site: str | None = None) -> Response:
    desk = _sb().privacy
    caller: Caller = g.caller
    sent = request.get_json(silent=True)
    entry = {"app": caller.app, "kind": caller.kind, "site": site, "body": sent}
    retry_after = desk.throttled()
    if retry_after is not None:
        desk.log({**entry, "status": 429})
        response = jsonify({"errorMessages": ["Rate limit exceeded."], "errors": {}})
        response.status_code = 429
        response.headers["Retry-After"] = str(retry_after)
        return response
    try:
        needed = desk.answer(parse_report(sent))
    except JiraError:
        desk.log({**entry, "status": 400})
        raise
    desk.log({**entry, "status": 200 if needed else 204, "answer": needed})
    response = jsonify({"accounts": needed}) if needed else Response(status=204)
    response.headers["Cycle-Period"] = str(desk.settings()["cycle_period_days"])
    return response
