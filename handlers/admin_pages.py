"""The admin pages' shared machinery: one view, two surfaces.

Every admin page is served twice:

- in the dashboard under ``/admin``: the session cookie; every write carries the
  session's CSRF token (a hidden ``csrf_token`` field, or ``X-CSRF-Token`` from the JS);
  a visit without a session is sent to the sign-in form;
- inside Jira under ``/connect/admin`` (Connect ``adminPages`` / ``generalPages``): the
  context JWT Jira loads the iframe with. Links and forms carry it on (``?jwt=``; inside
  Jira static/admin.js swaps in a fresh one from ``AP.context.getToken()`` first), and
  admin pages also confirm the user's Jira ADMINISTER permission with the site.

``admin_route`` registers a view on both surfaces with the role it needs
(auth/roles.py: each registration is a rule of its own, so the role matrix test covers
both), and ``render`` gives the template what its links and forms must carry. Pages
are never cached (``Cache-Control: no-store``) and only Jira sites may frame the
in-Jira ones (``@iframe_route``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

from auth.roles import at_least, principal, requires_role
from auth.sessions import SessionRecord
from handlers.connect_auth import runtime
from handlers.security_headers import iframe_route
from handlers.session_cookie import current_session
from runtime import Runtime

DASHBOARD, JIRA = "dashboard", "jira"
PREFIXES = {DASHBOARD: "/admin", JIRA: "/connect/admin"}
admin_dashboard = Blueprint("admin", __name__, url_prefix=PREFIXES[DASHBOARD])
admin_jira = Blueprint("connect_admin", __name__, url_prefix=PREFIXES[JIRA])
BLUEPRINTS = {DASHBOARD: admin_dashboard, JIRA: admin_jira}

# The pages in the navigation: (path, label).
NAV = (
    ("/integrations", "Integrations"),
    ("/connections", "Connections"),
    ("/activity", "Activity"),
    ("/settings", "Settings"),
    ("/members", "Members"),
    ("/export", "Export"),
    ("/cleanup", "Disconnect & clean up"),
    ("/deletion", "Delete account"),
)
# Fixed texts a redirect may ask the next page to show (never text from the request).
NOTICES = {
    "integration-created": "The integration was created.",
    "integration-saved": "The integration was saved.",
    "integration-enabled": "Syncing started; existing issues are being mirrored.",
    "integration-disabled": "Syncing stopped.",
    "connection-disconnected": "The site was disconnected and Tandem's tokens destroyed.",
    "settings-saved": "The settings were saved.",
    "member-invited": "The invitation was sent.",
    "member-role": "The role was changed.",
    "member-removed": "The member was removed.",
    "member-added": "The Jira user was given the role.",
    "member-unlocked": "The account was unlocked.",
    "export-started": "The export was started.",
    "deletion-requested": "The account is scheduled for deletion.",
    "deletion-cancelled": "The deletion was cancelled.",
}


@dataclass(frozen=True)
class Surface:
    """Where this request came in, and what its links and forms must carry."""

    name: str
    jwt: str = ""  # the in-Jira context token the request came with
    csrf_token: str = ""  # the dashboard session's

    @property
    def prefix(self) -> str:
        return PREFIXES[self.name]

    @property
    def in_jira(self) -> bool:
        return self.name == JIRA

    def url(self, path: str = "", **query: object) -> str:
        """A link to another admin path on this surface (with the context token in Jira)."""
        params = {k: str(v) for k, v in query.items() if v not in (None, "")}
        if self.in_jira and self.jwt:
            params["jwt"] = self.jwt
        return f"{self.prefix}{path}" + (f"?{urlencode(params)}" if params else "")


def surface() -> Surface:
    """The surface of the current request."""
    return g.admin_surface


def _jira_token() -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("JWT "):
        return header[4:].strip()
    return request.args.get("jwt", "")


def _bind(
    view: Callable[..., ResponseReturnValue], name: str
) -> Callable[..., ResponseReturnValue]:
    """The view bound to one surface, under a name of its own (the role registry and the
    role matrix tell the two registrations apart by qualified name)."""

    @functools.wraps(view)
    def bound(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if name == JIRA:
            g.admin_surface = Surface(JIRA, jwt=_jira_token())
        else:
            record: SessionRecord = g.session_record
            g.admin_surface = Surface(DASHBOARD, csrf_token=record.csrf_token)
        return view(*args, **kwargs)

    bound.__qualname__ = f"{view.__qualname__}.{name}"
    return bound


def _sign_in_first(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """A dashboard page visited without a session goes to the sign-in form (and back)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if request.method == "GET" and current_session() is None:
            return redirect(f"/auth/login?{urlencode({'next': request.full_path})}", code=303)
        return view(*args, **kwargs)

    return wrapper


def admin_route(
    path: str,
    role: str = "viewer",
    methods: Iterable[str] = ("GET",),
    jira_role: str | None = None,
    jira_admin: bool = True,
    bootstrap: bool = False,
) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., ResponseReturnValue]]:
    """Serve ``view`` at ``path`` on both surfaces, needing ``role`` (``jira_role`` in
    Jira when it differs). In Jira the rule also confirms Jira admin rights unless
    ``jira_admin`` is False (the general pages)."""

    def decorate(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        endpoint = view.__name__
        dashboard = requires_role(role, surface=DASHBOARD)(_bind(view, DASHBOARD))
        admin_dashboard.add_url_rule(
            path, endpoint, _sign_in_first(dashboard), methods=list(methods)
        )
        in_jira = requires_role(
            jira_role or role, surface=JIRA, jira_admin=jira_admin, bootstrap=bootstrap
        )(_bind(view, JIRA))
        admin_jira.add_url_rule(path, endpoint, iframe_route(in_jira), methods=list(methods))
        return view

    return decorate


def may(role: str) -> bool:
    """Whether the caller holds at least ``role`` (to show the buttons the server allows)."""
    return at_least(principal().role, role)


def render(template: str, status: int = 200, **context: Any) -> Response:
    """An admin page: the template with the surface, the caller, the navigation and the
    notice a redirect asked for."""
    here = surface()
    notice = NOTICES.get(request.args.get("notice", ""))
    html = render_template(
        template,
        surface=here,
        who=principal(),
        may=may,
        nav=[(here.url(path), label, request.path.endswith(path)) for path, label in NAV],
        notice=notice,
        **context,
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def back_to(path: str, notice: str, **query: object) -> Response:
    """Post/redirect/get: to ``path`` on this surface, with one of the NOTICES."""
    return redirect(surface().url(path, notice=notice, **query), code=303)


def answer(body: Mapping[str, Any], status: int = 200) -> Response:
    """A JSON answer for the pages' scripts; never cached."""
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def form_value(name: str, limit: int = 1000) -> str:
    """A form field as stripped text, cut at ``limit`` characters."""
    return (request.form.get(name) or "").strip()[:limit]


def tenant_runtime() -> tuple[Runtime, Any]:
    """This app's Runtime and the caller's tenant id."""
    return runtime(), principal().tenant_id
