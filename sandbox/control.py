"""The control plane under `/sandbox`: what people do in Jira (create, edit, comment,
attach, delete), the Connect installer, keys, and the webhook delivery log.

No authentication: it is a local test control plane and the server binds to loopback.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox import adf, issues, keyserver, views
from sandbox.context import sandbox_of
from sandbox.core import Sandbox
from sandbox.errors import JiraError, field_errors
from sandbox.installer import InstallError
from sandbox.state import Site
from sandbox.webhooks import STATES

control = Blueprint("sandbox_control", __name__, url_prefix="/sandbox")

HUMAN_KEYS = frozenset(
    {"project", "issuetype", "summary", "description", "priority", "labels", "assignee"}
)


def _sb() -> Sandbox:
    return sandbox_of(current_app)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and not request.get_data():
        return {}
    if not isinstance(data, dict):
        raise JiraError(400, "The request body must be a JSON object.")
    return data


def _actor(site: Site, body: dict[str, Any]) -> str:
    actor = body.get("actor") or site.humans[0]
    if actor not in site.users:
        raise field_errors({"actor": f"User '{actor}' does not exist."})
    return str(actor)


def _site_and_actor(site_name: str, body: dict[str, Any]) -> tuple[Site, str]:
    state = _sb().state
    with state.lock:
        site = state.site(site_name)
        return site, _actor(site, body)


def _human_fields(site: Site, body: dict[str, Any], creating: bool) -> dict[str, Any]:
    """A person's simple form (names, plain text) as REST v3 fields."""
    unknown = body.keys() - HUMAN_KEYS - {"actor", "status"}
    if unknown:
        raise field_errors({name: "Not a field the sandbox edits." for name in unknown})
    status = body.get("status")
    if status is not None and not any(s.name.lower() == str(status).lower() for s in site.statuses):
        raise field_errors({"status": f"No status named '{status}'."})
    fields: dict[str, Any] = {}
    if creating:
        fields["project"] = {"key": body.get("project") or next(iter(site.projects.values())).key}
        fields["issuetype"] = {"name": body.get("issuetype", "Task")}
    elif "issuetype" in body:
        fields["issuetype"] = {"name": body["issuetype"]}
    if "summary" in body:
        fields["summary"] = body["summary"]
    if "description" in body:
        text = body["description"]
        if isinstance(text, str):
            text = adf.from_text(text) if text else None
        fields["description"] = text
    if "priority" in body:
        fields["priority"] = {"name": body["priority"]}
    if "labels" in body:
        fields["labels"] = body["labels"]
    if "assignee" in body:
        fields["assignee"] = {"accountId": body["assignee"]}
    return fields


def _publish(events: list[Any]) -> list[str]:
    return _sb().dispatcher.publish(events)


MAX_KEYS = 200


def _issue_view(site_name: str, key: str) -> dict[str, Any]:
    state = _sb().state
    with state.lock:
        site = state.site(site_name)
        issue = site.issue(key)
        body = views.issue(site, state.site_url(site_name), issue)
        body["properties"] = dict(issue.properties)
        return body


def _text_or_adf(value: Any) -> Any:
    return adf.from_text(value) if isinstance(value, str) else value


@control.get("/health")
def health() -> Response:
    return jsonify({"ok": True, "url": _sb().public_url, "sites": list(_sb().config.sites)})


@control.get("/sites")
def list_sites() -> Response:
    state = _sb().state
    with state.lock:
        return jsonify([_site_summary(site) for site in state.sites.values()])


def _site_summary(site: Site) -> dict[str, Any]:
    state = _sb().state
    base = state.site_url(site.name)
    return {
        "name": site.name,
        "baseUrl": base,
        "cloudId": site.cloud_id,
        "projects": [views.project(base, p) for p in site.projects.values()],
        "users": [views.user(site, base, a, email=True) for a in site.users],
        "humans": list(site.humans),
        "issueTypes": [views.issue_type(base, t) for t in site.issue_types],
        "statuses": [views.status(base, s) for s in site.statuses],
        "priorities": [views.priority(base, p) for p in site.priorities],
        "workflows": {p.key: site.project_workflow[p.id] for p in site.projects.values()},
    }


@control.get("/sites/<site>")
def get_site(site: str) -> Response:
    state = _sb().state
    with state.lock:
        return jsonify(_site_summary(state.site(site)))


@control.put("/sites/<site>/projects/<key>/workflow")
def set_workflow(site: str, key: str) -> Response:
    """Switch a project to another workflow (`simple` or `review`); issues keep statuses."""
    name = _body().get("workflow")
    state = _sb().state
    with state.lock:
        found = state.site(site)
        project = found.project(key)
        if project is None:
            raise JiraError(404, f"No project could be found with key '{key}'.")
        if name not in found.workflows:
            raise field_errors({"workflow": f"Use one of {', '.join(found.workflows)}."})
        found.project_workflow[project.id] = str(name)
        return jsonify({"project": project.key, "workflow": name})


@control.get("/sites/<site>/issues")
def list_issues(site: str) -> Response:
    """Every issue of the site, or with ``?keys=K1,K2`` just those (unknown keys left out:
    one request reads many issues)."""
    state = _sb().state
    wanted = [k for k in request.args.get("keys", "").split(",") if k]
    with state.lock:
        found = state.site(site)
        base = state.site_url(site)
        if not wanted:
            chosen = list(found.issues.values())
        else:
            ids = (found.keys.get(key.upper()) for key in wanted[:MAX_KEYS])
            chosen = [found.issues[i] for i in ids if i is not None and i in found.issues]
        return jsonify([views.issue(found, base, issue) for issue in chosen])


@control.post("/sites/<site>/issues")
def create_issue(site: str) -> tuple[Response, int]:
    body = _body()
    found, actor = _site_and_actor(site, body)
    ref, events = issues.create_issue(_sb().state, site, actor, _human_fields(found, body, True))
    if "status" in body:
        events += issues.edit_issue(
            _sb().state, site, ref["key"], actor, status_name=body["status"]
        )
    _publish(events)
    return jsonify(_issue_view(site, ref["key"])), 201


@control.get("/sites/<site>/issues/<key>")
def get_issue(site: str, key: str) -> Response:
    return jsonify(_issue_view(site, key))


@control.put("/sites/<site>/issues/<key>")
def edit_issue(site: str, key: str) -> Response:
    body = _body()
    found, actor = _site_and_actor(site, body)
    fields = _human_fields(found, body, False)
    status = body.get("status")
    _publish(issues.edit_issue(_sb().state, site, key, actor, fields, None, status))
    return jsonify(_issue_view(site, key))


@control.delete("/sites/<site>/issues/<key>")
def delete_issue(site: str, key: str) -> Response:
    _, actor = _site_and_actor(site, _body())
    _publish(issues.delete_issue(_sb().state, site, key, actor))
    return Response(status=204)


@control.post("/sites/<site>/issues/<key>/comments")
def add_comment(site: str, key: str) -> tuple[Response, int]:
    body = _body()
    _, actor = _site_and_actor(site, body)
    text = _text_or_adf(body.get("body"))
    comment, events = issues.add_comment(_sb().state, site, key, actor, text)
    _publish(events)
    return jsonify(comment), 201


@control.put("/sites/<site>/issues/<key>/comments/<comment_id>")
def edit_comment(site: str, key: str, comment_id: str) -> Response:
    body = _body()
    _, actor = _site_and_actor(site, body)
    text = _text_or_adf(body.get("body"))
    comment, events = issues.edit_comment(_sb().state, site, key, comment_id, actor, text)
    _publish(events)
    return jsonify(comment)


@control.delete("/sites/<site>/issues/<key>/comments/<comment_id>")
def delete_comment(site: str, key: str, comment_id: str) -> Response:
    _, actor = _site_and_actor(site, _body())
    _publish(issues.delete_comment(_sb().state, site, key, comment_id, actor))
    return Response(status=204)


@control.post("/sites/<site>/issues/<key>/attachments")
def add_attachment(site: str, key: str) -> tuple[Response, int]:
    body = _body()
    _, actor = _site_and_actor(site, body)
    filename = body.get("filename")
    if not isinstance(filename, str) or not filename:
        raise field_errors({"filename": "A filename is required."})
    try:
        if "content_base64" in body:
            content = base64.b64decode(str(body["content_base64"]), validate=True)
        else:
            content = str(body.get("content", "")).encode()
    except binascii.Error:
        raise field_errors({"content_base64": "Not valid base64."}) from None
    mime = str(body.get("mimeType") or "text/plain")
    meta, events = issues.add_attachment(_sb().state, site, key, actor, filename, mime, content)
    _publish(events)
    return jsonify(meta), 201


@control.delete("/sites/<site>/issues/<key>/attachments/<attachment_id>")
def delete_attachment(site: str, key: str, attachment_id: str) -> Response:
    _, actor = _site_and_actor(site, _body())
    _publish(issues.delete_attachment(_sb().state, site, attachment_id, actor))
    return Response(status=204)


def _installer_call(action: str) -> Response:
    body = _body()
    installer = _sb().installer
    site, app_key = str(body.get("site", "")), str(body.get("app_key", ""))
    try:
        if action == "install":
            result = installer.install(site, str(body.get("descriptor_url", "")))
        elif action == "uninstall":
            result = installer.uninstall(site, app_key)
        else:
            result = installer.set_enabled(site, app_key, action == "enable")
    except InstallError as exc:
        raise JiraError(exc.status, str(exc)) from None
    return jsonify(result)


@control.post("/install")
def install() -> Response:
    return _installer_call("install")


@control.post("/uninstall")
def uninstall() -> Response:
    return _installer_call("uninstall")


@control.post("/enable")
def enable() -> Response:
    return _installer_call("enable")


@control.post("/disable")
def disable() -> Response:
    return _installer_call("disable")


@control.get("/installations")
def list_installations() -> Response:
    state = _sb().state
    with state.lock:
        return jsonify([inst.public() for inst in state.installations.values()])


@control.get("/keys")
def list_keys() -> Response:
    state = _sb().state
    with state.lock:
        return jsonify({"current": state.current_kid, "kids": list(state.signing_keys)})


@control.post("/keys/rotate")
def rotate_keys() -> Response:
    kid = keyserver.rotate(_sb().state)
    return jsonify({"current": kid})


@control.get("/deliveries")
def list_deliveries() -> Response:
    wanted = request.args.get("state")
    if wanted is not None and wanted not in STATES:
        raise JiraError(400, f"state must be one of {', '.join(STATES)}")
    rows = _sb().dispatcher.listing(request.args.get("site"), wanted)
    for name in ("event", "issue_key", "app_key"):
        if name in request.args:
            rows = [row for row in rows if row[name] == request.args[name]]
    return jsonify(rows)


@control.get("/deliveries/<identifier>")
def get_delivery(identifier: str) -> Response:
    found = _sb().dispatcher.detail(identifier)
    if found is None:
        raise JiraError(404, f"No delivery {identifier}.")
    return jsonify(found)


@control.post("/deliveries/<identifier>/redeliver")
def redeliver(identifier: str) -> Response:
    result = _sb().dispatcher.redeliver(identifier)
    if result is None:
        raise JiraError(404, f"No delivery {identifier}.")
    return jsonify(result)


@control.post("/deliveries/wait")
def wait_for_deliveries() -> Response:
    try:
        timeout = min(float(_body().get("timeout", 10)), 120.0)
    except (TypeError, ValueError):
        raise JiraError(400, "timeout must be a number of seconds") from None
    return jsonify(_sb().dispatcher.wait_idle(timeout))
