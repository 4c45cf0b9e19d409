"""Admin pages: the integrations (list, create, edit, start and stop, backfill progress).

The form is one page posted back to itself: "Load projects and values" (``intent=reload``)
shows it again with the chosen sites' projects and the chosen projects' statuses,
priorities and types read from Jira (sync/site_catalog.py); "Save" validates and stores.
Without JavaScript both are plain form posts; static/admin.js reloads on its own when a
site or project changes.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from auth.roles import principal
from handlers.admin_integration_form import (
    COMMENT_DELETED,
    DIRECTIONS,
    FIELDS,
    ISSUE_DELETED,
    MAPPED,
    empty_values,
    from_document,
    place_error,
    read_form,
    to_document,
)
from handlers.admin_pages import admin_route, answer, back_to, render, tenant_runtime
from schemas import InvalidPayload
from sync.integration_admin import backfill_progress, create, list_integrations, load_integration
from sync.integration_admin import update as update_integration
from sync.integrations import set_enabled
from sync.site_catalog import (
    CatalogUnavailable,
    ProjectValues,
    parse_end,
    project_values,
    site_projects,
    workspace_sites,
)

FIELD_LABELS = {
    "summary": "Summary",
    "description": "Description",
    "status": "Status",
    "priority": "Priority",
    "issuetype": "Issue type",
    "assignee": "Assignee",
    "comments": "Comments",
    "attachments": "Attachments",
}


@admin_route("/integrations")
def integrations() -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    return render(
        "admin/integrations.html",
        title="Integrations",
        integrations=list_integrations(rt, tenant_id),
        field_labels=FIELD_LABELS,
    )


def _catalog(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The choices the form offers for ``values``: sites, each side's projects and the
    chosen projects' values; a problem reading Jira goes next to its field."""
    rt, tenant_id = tenant_runtime()
    sites = workspace_sites(rt, tenant_id)
    known = {site.value: site for site in sites if site.usable}
    catalog: dict[str, Any] = {"sites": sites}
    for side in ("source", "target"):
        catalog[f"{side}_projects"] = None
        catalog[f"{side}_values"] = None
        parsed = parse_end(values[side])
        if parsed is None or values[side] not in known:
            if values[side]:
                errors.setdefault(side, "that site is not one of this workspace's usable sites")
            continue
        try:
            projects = site_projects(rt, tenant_id, *parsed)
        except CatalogUnavailable as error:
            errors.setdefault(f"{side}_project", str(error))
            continue
        catalog[f"{side}_projects"] = projects
        project = values[f"{side}_project"]
        if not project:
            continue
        if project not in {key for key, _ in projects}:
            errors.setdefault(f"{side}_project", f"{project} is not a project of that site")
            continue
        try:
            catalog[f"{side}_values"] = project_values(rt, tenant_id, *parsed, project)
        except CatalogUnavailable as error:
            errors.setdefault(f"map_{side}", str(error))
    return catalog


def _rows(values: dict[str, Any], catalog: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Each mapping table's rows: with the source project's values known, one per value
    (the stored choice kept); otherwise the stored rows and three blank ones."""
    source: ProjectValues | None = catalog["source_values"]
    rows: dict[str, list[tuple[str, str]]] = {}
    for key, stored in values["maps"].items():
        chosen = {a: b for a, b in stored if a}
        if source is not None and key in MAPPED:
            names = {"status": source.statuses, "priority": source.priorities}.get(
                key, source.issue_types
            )
            rows[key] = [(name, chosen.get(name, "")) for name in names]
        else:
            rows[key] = [(a, b) for a, b in chosen.items()] + [("", "")] * 3
    return rows


def _form(
    values: dict[str, Any],
    errors: dict[str, str],
    integration_id: uuid.UUID | None = None,
    status: int = 200,
    checked: tuple[dict[str, Any], dict[str, str]] | None = None,
) -> ResponseReturnValue:
    """The form with ``values``; ``checked`` is a catalog already read for them (and the
    problems reading it), so Jira is asked once per request."""
    found: dict[str, str] = {}
    catalog, found = checked or (_catalog(values, found), found)
    errors = {**found, **errors}
    return render(
        "admin/integration_form.html",
        status=status,
        title="Edit integration" if integration_id else "New integration",
        values=values,
        errors=errors,
        catalog=catalog,
        rows=_rows(values, catalog),
        integration_id=integration_id,
        fields=FIELDS,
        field_labels=FIELD_LABELS,
        directions=DIRECTIONS,
        issue_deleted=ISSUE_DELETED,
        comment_deleted=COMMENT_DELETED,
    )


def _not_found(error: LookupError) -> ResponseReturnValue:
    return render("admin/problem.html", 404, title="Not found", problem=str(error))


@admin_route("/integrations/new", role="admin")
def new_integration() -> ResponseReturnValue:
    return _form(empty_values(), {})


@admin_route("/integrations", role="admin", methods=("POST",))
def create_integration() -> ResponseReturnValue:
    values = read_form(request.form)
    if request.form.get("intent") == "reload":
        return _form(values, {})
    document, errors = to_document(values)
    problems: dict[str, str] = {}
    catalog = _catalog(values, problems)  # the sites must be ours, the projects exist
    if not errors:
        errors = {k: v for k, v in problems.items() if k in values}
    if errors:
        return _form(values, errors, status=400, checked=(catalog, problems))
    rt, tenant_id = tenant_runtime()
    try:
        create(rt, tenant_id, document, principal().actor, enable=values["enable"])
    except InvalidPayload as error:
        field, why = place_error(str(error))
        return _form(values, {field: why}, status=400)
    return back_to("/integrations", "integration-created")


@admin_route("/integrations/<uuid:integration_id>", role="admin")
def edit_integration(integration_id: uuid.UUID) -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    try:
        document, _enabled = load_integration(rt, tenant_id, integration_id)
    except LookupError as error:
        return _not_found(error)
    return _form(from_document(document), {}, integration_id)


@admin_route("/integrations/<uuid:integration_id>", role="admin", methods=("POST",))
def save_integration(integration_id: uuid.UUID) -> ResponseReturnValue:
    rt, tenant_id = tenant_runtime()
    try:
        stored, _enabled = load_integration(rt, tenant_id, integration_id)
    except LookupError as error:
        return _not_found(error)
    # The ends cannot change: they are taken from the stored integration, not the form.
    kept = from_document(stored)
    values = {
        **read_form(request.form),
        **{k: kept[k] for k in ("source", "source_project", "target", "target_project")},
    }
    if request.form.get("intent") == "reload":
        return _form(values, {}, integration_id)
    document, errors = to_document(values)
    if errors:
        return _form(values, errors, integration_id, status=400)
    try:
        update_integration(rt, tenant_id, integration_id, document, principal().actor)
    except InvalidPayload as error:
        field, why = place_error(str(error))
        return _form(values, {field: why}, integration_id, status=400)
    except LookupError as error:
        return _not_found(error)
    return back_to("/integrations", "integration-saved")


@admin_route("/integrations/<uuid:integration_id>/enabled", role="admin", methods=("POST",))
def switch_integration(integration_id: uuid.UUID) -> ResponseReturnValue:
    wanted = request.form.get("enabled")
    if wanted not in ("yes", "no"):
        return render(
            "admin/problem.html", 400, title="Not changed", problem="enabled must be yes or no"
        )
    rt, tenant_id = tenant_runtime()
    try:
        set_enabled(rt, tenant_id, integration_id, wanted == "yes", principal().actor)
    except LookupError as error:
        return _not_found(error)
    return back_to(
        "/integrations", "integration-enabled" if wanted == "yes" else "integration-disabled"
    )


@admin_route("/integrations/<uuid:integration_id>/backfill")
def backfill(integration_id: uuid.UUID) -> ResponseReturnValue:
    """The backfill's progress as JSON (the list polls it while one runs)."""
    rt, tenant_id = tenant_runtime()
    found = backfill_progress(rt, tenant_id, integration_id)
    if found is None:
        return answer({"error": "Not Found", "message": "no such integration"}, 404)
    return answer(found.as_json())
