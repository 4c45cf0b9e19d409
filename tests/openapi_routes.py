"""Which routes of the app belong to the JSON API that docs/openapi.yaml describes.

Every rule of the app's url_map is in the spec unless it is declared here, with the
reason it is not JSON (tests/test_openapi.py checks both ways, so a new route is either
described or declared). Admin pages are declared once for both surfaces (``/admin`` and
``/connect/admin`` register the same view names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "openapi.yaml"
SCHEMAS = ROOT / "schemas"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})  # Flask adds HEAD, OPTIONS
ADMIN_BLUEPRINTS = ("admin", "connect_admin")

HTML_FORM = "a server-rendered HTML form for people's browsers (the JSON twin is /api/auth)"
ADMIN_PAGE = "an admin page: HTML, or a form post answered with a redirect or the page"
NOT_JSON: dict[str, str] = {
    "static": "static files (stylesheets, scripts, images)",
    "admin.index": "redirects the dashboard's /admin to its integrations page",
    "auth_pages.login": HTML_FORM,
    "auth_pages.logout": HTML_FORM,
    "auth_pages.request_reset": HTML_FORM,
    "auth_pages.complete_reset": HTML_FORM,
    "auth_pages.accept_invitation": HTML_FORM,
    "auth_pages.account": "the signed-in HTML page with the sign-out form",
    "issue_panel.page": "the issue panel's iframe page (HTML); its JSON calls are described",
    "oauth.start": "a browser navigation from the admin page, redirected to Atlassian's consent",
    "oauth.callback": "where Atlassian's consent sends the browser back: an HTML page",
}
# View names of the admin pages (HTML) on both surfaces; their JSON pollers are described.
ADMIN_PAGES = frozenset(
    {
        "activity",
        "add_jira_member",
        "cancel_deletion",
        "cleanup",
        "connect_site",
        "connections",
        "create_integration",
        "deletion",
        "disconnect_site",
        "edit_integration",
        "export",
        "integrations",
        "invite_member",
        "members",
        "new_integration",
        "remove",
        "request_deletion",
        "save",
        "save_integration",
        "set_role",
        "settings",
        "start",
        "start_export",
        "switch_integration",
    }
)
_CONVERTER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def not_json_reason(endpoint: str) -> str | None:
    """Why an endpoint is not part of the JSON API, or None when it is."""
    blueprint, _, view = endpoint.rpartition(".")
    if blueprint in ADMIN_BLUEPRINTS and view in ADMIN_PAGES:
        return ADMIN_PAGE
    return NOT_JSON.get(endpoint)


def openapi_path(rule: str) -> str:
    """A werkzeug rule as an OpenAPI path: ``/a/<uuid:b_id>`` -> ``/a/{b_id}``."""
    return _CONVERTER.sub(r"{\1}", rule)


def app_operations(app: Flask) -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) -> endpoint, for every JSON route of the app."""
    found: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        if not_json_reason(rule.endpoint) is None:
            for method in sorted((rule.methods or set()) & METHODS):
                found[(openapi_path(rule.rule), method)] = rule.endpoint
    return found


def declared_endpoints() -> set[str]:
    """Every endpoint this module declares not JSON (admin pages on both surfaces)."""
    admin = {f"{bp}.{view}" for bp in ADMIN_BLUEPRINTS for view in ADMIN_PAGES}
    return set(NOT_JSON) | admin


def load_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text())


def spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(path, method) of every operation the spec describes."""
    return {
        (path, method.upper())
        for path, item in spec["paths"].items()
        for method in item
        if method.upper() in METHODS
    }
