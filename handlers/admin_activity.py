"""Admin pages: activity, the sync attempts and audit events of the workspace with
filters and keyset paging (audit/activity.py). Inside Jira it is a general page for
members (no Jira admin rights needed); in the dashboard every role may read it."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from audit.activity import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ActivityFilter,
    BadFilter,
    activity_page,
    parse_filter,
)
from handlers.admin_pages import admin_route, render, tenant_runtime
from models.sync_attempts import OUTCOMES
from sync.integration_admin import list_integrations


@admin_route("/activity", jira_role="member", jira_admin=False)
def activity() -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    integrations = [(item.id, item.name) for item in list_integrations(rt, tenant_id)]
    context = {
        "title": "Activity",
        "integrations": integrations,
        "outcomes": OUTCOMES,
        "sizes": (DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
        "args": request.args,
    }
    try:
        wanted = parse_filter(request.args)
    except BadFilter as error:
        return render(
            "admin/activity.html",
            400,
            wanted=ActivityFilter(),
            page=None,
            errors={error.field: str(error)},
            **context,
        )
    found = activity_page(rt, tenant_id, wanted)
    return render("admin/activity.html", wanted=wanted, page=found, errors={}, **context)
