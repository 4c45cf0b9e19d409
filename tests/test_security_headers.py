"""Every route of the app sends the security headers: each rule of the url_map is
requested with every method it serves (no credentials, so most answers are refusals,
which must carry the headers too). Iframe routes may be framed by Jira sites and the
sandbox only; every other route by nobody."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.routing import Rule

from app import create_app
from config import Settings
from handlers.security_headers import is_iframe_endpoint

SANDBOX = "http://127.0.0.1:9999"
CACHEABLE = {"static", "connect.descriptor"}
SAMPLE = {"UUIDConverter": str(uuid.UUID(int=1)), "IntegerConverter": "1", "PathConverter": "x"}


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Flask]:
    built = create_app(replace(settings, sandbox_url=SANDBOX))
    yield built
    built.extensions["tandem"].close()


@pytest.fixture(scope="module")
def production_app(settings: Settings) -> Iterator[Flask]:
    built = create_app(
        replace(
            settings,
            env="production",
            base_url="https://tandem.example",
            secret_key="p" * 40,
            sandbox_url=SANDBOX,
        )
    )
    yield built
    built.extensions["tandem"].close()


def _url(rule: Rule) -> str:
    values = {
        name: SAMPLE.get(type(converter).__name__, "x")
        for name, converter in rule._converters.items()
    }
    if rule.endpoint == "static":
        values["filename"] = "tandem.css"
    return rule.build(values, append_unknown=False)[1]


def _requests(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule and method of the app."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, _url(rule)))
    return found


def test_the_app_has_routes_to_check(app: Flask) -> None:
    endpoints = {endpoint for endpoint, _, _ in _requests(app)}
    assert {"issue_panel.page", "connect.descriptor", "health.healthz", "static"} <= endpoints
    assert len(endpoints) >= 20


def test_every_route_sends_the_security_headers(app: Flask) -> None:
    client = app.test_client()
    problems = []
    for endpoint, method, url in _requests(app):
        headers = client.open(url, method=method).headers
        policy = headers.get("Content-Security-Policy", "")
        iframe = is_iframe_endpoint(app, endpoint)
        expected = {
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": None if iframe else "DENY",
            "Cache-Control": None if endpoint in CACHEABLE else "no-store",
            "Strict-Transport-Security": None,  # not outside production
        }
        for name, value in expected.items():
            if headers.get(name) != value and not (name == "Cache-Control" and value is None):
                problems.append(f"{method} {url} ({endpoint}): {name}={headers.get(name)!r}")
        ancestors = (
            f"frame-ancestors https://*.atlassian.net {SANDBOX}"
            if iframe
            else ("frame-ancestors 'none'")
        )
        scripts = (
            "script-src 'self' https://connect-cdn.atl-paas.net"
            if iframe
            else ("script-src 'self';")
        )
        for part in (ancestors, scripts, "default-src 'none'", "style-src 'self';"):
            if part not in policy + ";":
                problems.append(f"{method} {url} ({endpoint}): CSP lacks {part!r}: {policy}")
        if "unsafe-inline" in policy or "unsafe-eval" in policy:
            problems.append(f"{method} {url} ({endpoint}): CSP allows inline code: {policy}")
    assert problems == []


def test_only_pages_jira_frames_are_iframe_routes(app: Flask) -> None:
    iframes = {endpoint for endpoint, _, _ in _requests(app) if is_iframe_endpoint(app, endpoint)}
    assert {"issue_panel.page", "connect.admin_page"} <= iframes
    for endpoint, _, url in _requests(app):
        if endpoint in iframes:
            assert url.startswith("/connect/"), (endpoint, url)
    assert "issue_panel.state" not in iframes and "health.healthz" not in iframes


def test_production_adds_hsts_and_drops_the_sandbox(production_app: Flask) -> None:
    client = production_app.test_client()
    for endpoint, method, url in _requests(production_app):
        headers = client.open(url, method=method).headers
        assert headers.get("Strict-Transport-Security") == (
            "max-age=31536000; includeSubDomains"
        ), (endpoint, url)
        assert SANDBOX not in headers["Content-Security-Policy"], (endpoint, url)
    panel = client.get("/connect/issue-panel").headers["Content-Security-Policy"]
    assert "frame-ancestors https://*.atlassian.net;" in panel + ";"


def test_errors_and_unknown_paths_carry_the_headers_too(app: Flask) -> None:
    missing = app.test_client().get("/no/such/page")
    assert missing.status_code == 404
    assert "frame-ancestors 'none'" in missing.headers["Content-Security-Policy"]
    assert missing.headers["X-Frame-Options"] == "DENY"
    assert missing.headers["Cache-Control"] == "no-store"


INLINE_CODE = re.compile(r"<style|<script(?![^>]*\ssrc=)|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_no_template_carries_inline_code() -> None:
    """The CSP allows no inline script or style, so no template may rely on any."""
    templates = sorted(Path(__file__).resolve().parent.parent.joinpath("templates").rglob("*.html"))
    assert templates, "the templates folder holds the pages"
    offending = {
        str(path.name): found.group(0)
        for path in templates
        if (found := INLINE_CODE.search(path.read_text()))
    }
    assert offending == {}
