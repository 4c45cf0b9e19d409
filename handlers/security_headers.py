"""Security headers on every response: a Content-Security-Policy, framing rules, HSTS in
production, ``nosniff``, ``Referrer-Policy`` and ``no-store`` on everything not public.

Only the routes marked ``@iframe_route`` (pages Jira shows inside an iframe: the issue
panel, the in-Jira admin pages) may be framed, and only by Jira sites; every other route
sends ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from config import Settings

JIRA_SITES = "https://*.atlassian.net"
# Atlassian's iframe script (all.js) for Connect pages.
ATLASSIAN_SCRIPT_HOST = "https://connect-cdn.atl-paas.net"
HSTS = "max-age=31536000; includeSubDomains"
# Public and cacheable: static assets and the descriptor Jira fetches; all else no-store.
CACHEABLE_ENDPOINTS = frozenset({"static", "connect.descriptor"})
_IFRAME = "_tandem_iframe_route"
View = TypeVar("View", bound=Callable[..., object])


def iframe_route(view: View) -> View:
    """Mark a view as a page Jira frames: its policy lets Jira sites frame it."""
    setattr(view, _IFRAME, True)
    return view


def is_iframe_endpoint(app: Flask, endpoint: str | None) -> bool:
    """Whether the endpoint's view was marked ``@iframe_route`` (decorators that use
    ``functools.wraps`` keep the mark)."""
    view = app.view_functions.get(endpoint or "")
    return bool(getattr(view, _IFRAME, False))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def frame_ancestors(settings: Settings) -> list[str]:
    """Who may frame an iframe route: Jira Cloud sites, plus the sandbox standing in for
    them in development and tests (never in production)."""
    allowed = [JIRA_SITES]
    sandbox = _origin(settings.sandbox_url) if not settings.is_production else ""
    if sandbox:
        allowed.append(sandbox)
    return allowed


def content_security_policy(settings: Settings, iframe: bool) -> str:
    """The policy: everything from this origin only, no inline script or style, no
    plugins; iframe routes may also load all.js and be framed by Jira."""
    scripts = "'self'" + (f" {ATLASSIAN_SCRIPT_HOST}" if iframe else "")
    ancestors = " ".join(frame_ancestors(settings)) if iframe else "'none'"
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {ancestors}",
        )
    )


def add_security_headers(response: Response) -> Response:
    """``after_request``: set the headers for this response's route."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings: Settings = app.extensions["tandem"].settings
    iframe = is_iframe_endpoint(app, request.endpoint)
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(settings, iframe)
    if not iframe:
        headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    # Iframe URLs carry a JWT in their query: never send them on as a Referer.
    headers["Referrer-Policy"] = "no-referrer"
    if settings.is_production:
        headers["Strict-Transport-Security"] = HSTS
    if request.endpoint not in CACHEABLE_ENDPOINTS:
        headers["Cache-Control"] = "no-store"
    return response


def register_security_headers(app: Flask) -> None:
    """Add the headers to every response of ``app``, errors included."""
    app.after_request(add_security_headers)
