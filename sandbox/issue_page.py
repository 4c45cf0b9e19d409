"""A stand-in for Jira's issue view, `GET /jira/{site}/browse/{key}`: the issue's fields
and, for every installed app with an issue web panel, an iframe on the panel's URL the
way Jira loads it (context parameters filled in, Jira's iframe parameters, and a context
JWT signed with the installation's sharedSecret naming the viewing user and the issue).

`?as=<accountId>` views the page as that person (default: the site's first person).
Development and tests only, like the rest of the sandbox.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, current_app, request

from sandbox.context import sandbox_of
from sandbox.errors import field_errors
from sandbox.state import Issue, Site
from sandbox.tokens import context_token, join

issue_page = Blueprint("sandbox_issue_page", __name__)
PANEL_LOCATION = "atl.jira.view.issue.right.context"
_VARIABLE = re.compile(r"\{([a-z]+\.[a-z]+)\}")
# What Jira's iframes are allowed to do (a sandboxed iframe, as on the real site).
IFRAME_SANDBOX = (
    "allow-downloads allow-forms allow-modals allow-popups allow-scripts "
    "allow-same-origin allow-top-navigation-by-user-activation"
)
STYLE = (
    "body{font-family:sans-serif;margin:0;display:flex}main{flex:1;padding:1em 2em}"
    "aside{width:26em;border-left:1px solid #ddd;padding:1em}"
    "iframe{width:100%;height:22em;border:0}"
)


def _context(site: Site, issue: Issue) -> dict[str, Any]:
    project = site.projects[issue.project_id]
    return {
        "issue.id": issue.id,
        "issue.key": issue.key,
        "project.id": project.id,
        "project.key": project.key,
    }


def panel_src(
    app_base_url: str,
    panel_url: str,
    site_url: str,
    secret: str,
    client_key: str,
    viewer: str,
    values: dict[str, str],
) -> str:
    """The iframe URL Jira would load for one web panel of one issue."""
    path = _VARIABLE.sub(lambda match: quote(values.get(match[1], ""), safe=""), panel_url)
    context = {
        "jira": {
            "issue": {"id": values["issue.id"], "key": values["issue.key"]},
            "project": {"id": values["project.id"], "key": values["project.key"]},
        }
    }
    token = context_token(secret, client_key, viewer, context)
    jira_params = {"xdm_e": site_url, "xdm_c": "channel-panel", "cp": "", "lic": "none"}
    separator = "&" if "?" in path else "?"
    return join(app_base_url, path) + separator + urlencode({**jira_params, "jwt": token})


def _panels(site: Site, issue: Issue, viewer: str) -> list[tuple[str, str]]:
    """(panel name, iframe URL) for every installed app's issue panel."""
    sandbox = sandbox_of(current_app)
    state = sandbox.state
    values = _context(site, issue)
    found = []
    for (site_name, app_key), panels in sandbox.installer.web_panels.items():
        installed = state.installations.get((site_name, app_key))
        if site_name != site.name or installed is None or not installed.enabled:
            continue
        for panel in panels:
            if panel.get("location") != PANEL_LOCATION:
                continue
            name = str((panel.get("name") or {}).get("value") or panel["key"])
            src = panel_src(
                installed.base_url,
                panel["url"],
                state.site_url(site.name),
                installed.shared_secret,
                installed.client_key,
                viewer,
                values,
            )
            found.append((name, src))
    return found


@issue_page.get("/jira/<site>/browse/<key>")
def browse(site: str, key: str) -> Response:
    state = sandbox_of(current_app).state
    with state.lock:
        found = state.site(site)
        issue = found.issue(key)
        viewer = request.args.get("as") or found.humans[0]
        if viewer not in found.users:
            raise field_errors({"as": f"User '{viewer}' does not exist."})
        status = found.status(issue.status_id).name
        panels = _panels(found, issue, viewer)
        summary = issue.summary
        issue_key = issue.key
    frames = "".join(
        f"<section><h2>{escape(name)}</h2>"
        f"<iframe title='{escape(name)}' src='{escape(src)}' sandbox='{IFRAME_SANDBOX}'>"
        "</iframe></section>"
        for name, src in panels
    )
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(issue_key)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<main><p>{escape(site)}</p><h1 id='issue-key'>{escape(issue_key)}</h1>"
        f"<p id='summary'>{escape(summary)}</p><p>Status: <b id='status'>{escape(status)}</b>"
        f"</p></main><aside>{frames or '<p>No app panels.</p>'}</aside></body></html>"
    )
    return Response(html, mimetype="text/html")
