"""The Jira Cloud REST API v3 subset apps call, served twice: under the site URL
`/jira/{site}/rest/api/3` for Connect apps (`Authorization: JWT`) and under the gateway URL
`/ex/jira/{cloudId}/rest/api/3` for OAuth 2.0 apps (`Authorization: Bearer`). restguard
authenticates, counts, injects faults and checks scopes; changes are made as the caller's
account and fire webhooks like Jira's. Search, users and webhooks live in rest_*.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from sandbox import issues, restguard, views
from sandbox.context import sandbox_of
from sandbox.errors import GatewayError, JiraError
from sandbox.state import Project, Site

if TYPE_CHECKING:
    from sandbox.core import Sandbox

SITE_PREFIX = "/jira/<site>/rest/api/3"
GATEWAY_PREFIX = "/ex/jira/<cloud_id>/rest/api/3"

rest = Blueprint("sandbox_rest", __name__)
rest.before_request(restguard.before_request)
rest.after_request(restguard.after_request)


def register(app: Flask) -> None:
    """Serve the REST API under both URL forms (import the rest_* modules first)."""
    app.register_blueprint(rest, url_prefix=SITE_PREFIX)
    app.register_blueprint(rest, url_prefix=GATEWAY_PREFIX, name=restguard.GATEWAY_BLUEPRINT)


def _sb() -> Sandbox:
    return sandbox_of(current_app)


@rest.url_value_preprocessor
def _take_site(endpoint: str | None, values: dict[str, Any] | None) -> None:
    values = values if values is not None else {}
    if "cloud_id" in values:
        cloud_id = values.pop("cloud_id")
        state = _sb().state
        with state.lock:
            found = [s.name for s in state.sites.values() if s.cloud_id == cloud_id]
        if not found:
            raise GatewayError(404, "Not Found", "No site has this cloudId.")
        g.site = found[0]
    else:
        g.site = values.pop("site", "")


def _body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise JiraError(400, "The request body is missing or is not valid JSON.")
    return data


def _publish(events: list[Any]) -> None:
    _sb().dispatcher.publish(events)


def _no_content() -> Response:
    return Response(status=204)


def _base() -> str:
    return _sb().state.site_url(g.site)


@rest.get("/myself")
def myself() -> Response:
    state = _sb().state
    with state.lock:
        body = views.user(state.site(g.site), _base(), g.actor, email=True) or {}
    return jsonify({**body, "locale": "en_US", "groups": {"size": 0, "items": []}})


@rest.get("/serverInfo")
def server_info() -> Response:
    return jsonify(
        {
            "baseUrl": _base(),
            "displayUrl": _base(),
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100299,
            "serverTitle": "Jira",
            "defaultLocale": {"locale": "en_US"},
            "serverTimeZone": "Etc/UTC",
        }
    )


def _project(site: Site, id_or_key: str) -> Project:
    """The site's project with that id or key; Jira's 404 otherwise."""
    found = site.project(id_or_key)
    if found is None:
        raise JiraError(404, f"No project could be found with key '{id_or_key}'.")
    return found


@rest.get("/project/<id_or_key>")
def get_project(id_or_key: str) -> Response:
    state = _sb().state
    with state.lock:
        site = state.site(g.site)
        return jsonify(views.project_detail(site, _base(), _project(site, id_or_key)))


@rest.get("/project/search")
def search_projects() -> Response:
    """The site's projects, paged like Jira's (``startAt``, ``maxResults`` up to 100)."""
    try:
        start = max(0, int(request.args.get("startAt", 0)))
        size = max(1, min(int(request.args.get("maxResults", 50)), 100))
    except ValueError:
        raise JiraError(400, "startAt and maxResults must be numbers.") from None
    state = _sb().state
    with state.lock:
        projects = sorted(state.site(g.site).projects.values(), key=lambda p: p.key)
        page = [views.project(_base(), p) for p in projects[start : start + size]]
    return jsonify(
        {
            "self": f"{_base()}/rest/api/3/project/search",
            "startAt": start,
            "maxResults": size,
            "total": len(projects),
            "isLast": start + size >= len(projects),
            "values": page,
        }
    )


@rest.get("/project/<id_or_key>/statuses")
def project_statuses(id_or_key: str) -> Response:
    """The statuses of the project's workflow, once per issue type (as Jira lists them)."""
    state = _sb().state
    with state.lock:
        site = state.site(g.site)
        workflow = site.workflow(_project(site, id_or_key).id)
        ids = [workflow.initial_status_id, *(t.to_status_id for t in workflow.transitions)]
        statuses = [views.status(_base(), site.status(i)) for i in dict.fromkeys(ids)]
        return jsonify(
            [
                {"id": t.id, "name": t.name, "subtask": False, "statuses": statuses}
                for t in site.issue_types
            ]
        )


@rest.get("/priority")
def list_priorities() -> Response:
    state = _sb().state
    with state.lock:
        site = state.site(g.site)
        return jsonify([views.priority(_base(), p) for p in site.priorities])


@rest.get("/issuetype")
def list_issue_types() -> Response:
    state = _sb().state
    with state.lock:
        site = state.site(g.site)
        return jsonify([views.issue_type(_base(), t) for t in site.issue_types])


@rest.get("/label")
def list_labels() -> Response:
    state = _sb().state
    with state.lock:
        values = state.site(g.site).all_labels()
    return jsonify(
        {"maxResults": 1000, "startAt": 0, "total": len(values), "isLast": True, "values": values}
    )


@rest.post("/issue")
def create_issue() -> tuple[Response, int]:
    body = _body()
    fields = body.get("fields") if isinstance(body, dict) else None
    properties = body.get("properties") if isinstance(body, dict) else None
    if properties is not None and not (
        isinstance(properties, list)
        and all(isinstance(p, dict) and isinstance(p.get("key"), str) for p in properties)
    ):
        raise JiraError(400, "properties must be a list of {key, value}.")
    ref, events = issues.create_issue(_sb().state, g.site, g.actor, fields)
    if properties:  # like Jira, issue properties may be set in the create call itself
        state = _sb().state
        with state.lock:
            issue = state.site(g.site).issue(ref["key"])
            for prop in properties:
                issue.properties[prop["key"]] = prop.get("value")
    _publish(events)
    return jsonify(ref), 201


def _fields_filter() -> set[str] | None:
    wanted = {f.strip() for f in request.args.get("fields", "").split(",") if f.strip()}
    return None if not wanted or wanted & {"*all", "*navigable"} else wanted


@rest.get("/issue/<key>")
def get_issue(key: str) -> Response:
    state = _sb().state
    with state.lock:
        site = state.site(g.site)
        return jsonify(views.issue(site, _base(), site.issue(key), only=_fields_filter()))


@rest.put("/issue/<key>")
def edit_issue(key: str) -> Response:
    body = _body()
    if not isinstance(body, dict):
        raise JiraError(400, "The request body must be a JSON object.")
    events = issues.edit_issue(
        _sb().state, g.site, key, g.actor, body.get("fields"), body.get("update")
    )
    _publish(events)
    return _no_content()


@rest.delete("/issue/<key>")
def delete_issue(key: str) -> Response:
    _publish(issues.delete_issue(_sb().state, g.site, key, g.actor))
    return _no_content()


@rest.get("/issue/<key>/transitions")
def get_transitions(key: str) -> Response:
    return jsonify(issues.transitions(_sb().state, g.site, key))


@rest.post("/issue/<key>/transitions")
def do_transition(key: str) -> Response:
    _publish(issues.transition_issue(_sb().state, g.site, key, g.actor, _body()))
    return _no_content()


@rest.get("/issue/<key>/comment")
def list_comments(key: str) -> Response:
    state = _sb().state
    with state.lock:
        site = state.site(g.site)
        return jsonify(views.comment_page(site, _base(), site.issue(key)))


@rest.post("/issue/<key>/comment")
def add_comment(key: str) -> tuple[Response, int]:
    body = _body()
    text = body.get("body") if isinstance(body, dict) else None
    comment, events = issues.add_comment(_sb().state, g.site, key, g.actor, text)
    _publish(events)
    return jsonify(comment), 201


@rest.get("/issue/<key>/comment/<comment_id>")
def get_comment(key: str, comment_id: str) -> Response:
    return jsonify(issues.get_comment(_sb().state, g.site, key, comment_id))


@rest.put("/issue/<key>/comment/<comment_id>")
def edit_comment(key: str, comment_id: str) -> Response:
    body = _body()
    text = body.get("body") if isinstance(body, dict) else None
    comment, events = issues.edit_comment(_sb().state, g.site, key, comment_id, g.actor, text)
    _publish(events)
    return jsonify(comment)


@rest.delete("/issue/<key>/comment/<comment_id>")
def delete_comment(key: str, comment_id: str) -> Response:
    _publish(issues.delete_comment(_sb().state, g.site, key, comment_id, g.actor))
    return _no_content()


@rest.post("/issue/<key>/attachments")
def add_attachments(key: str) -> Response:
    if request.headers.get("X-Atlassian-Token", "").lower() != "no-check":
        raise JiraError(403, "XSRF check failed")
    files = request.files.getlist("file")
    if not files:
        raise JiraError(400, "No file named 'file' in the multipart body.")
    created = []
    for upload in files:
        meta, events = issues.add_attachment(
            _sb().state,
            g.site,
            key,
            g.actor,
            upload.filename or "file",
            upload.mimetype or "application/octet-stream",
            upload.read(),
        )
        _publish(events)
        created.append(meta)
    return jsonify(created)


@rest.get("/attachment/<attachment_id>")
def get_attachment(attachment_id: str) -> Response:
    state = _sb().state
    with state.lock:
        site = state.site(g.site)
        _, file = issues.find_attachment(site, attachment_id)
        return jsonify(views.attachment(site, _base(), file))


@rest.get("/attachment/content/<attachment_id>")
def attachment_content(attachment_id: str) -> Response:
    state = _sb().state
    with state.lock:
        _, file = issues.find_attachment(state.site(g.site), attachment_id)
        return Response(file.content, mimetype=file.mime_type)


@rest.delete("/attachment/<attachment_id>")
def delete_attachment(attachment_id: str) -> Response:
    _publish(issues.delete_attachment(_sb().state, g.site, attachment_id, g.actor))
    return _no_content()


@rest.get("/issue/<key>/properties")
def list_properties(key: str) -> Response:
    state = _sb().state
    with state.lock:
        issue = state.site(g.site).issue(key)
        base = f"{_base()}/rest/api/3/issue/{issue.id}/properties"
        return jsonify({"keys": [{"self": f"{base}/{k}", "key": k} for k in issue.properties]})


@rest.get("/issue/<key>/properties/<prop>")
def get_property(key: str, prop: str) -> Response:
    state = _sb().state
    with state.lock:
        issue = state.site(g.site).issue(key)
        if prop not in issue.properties:
            raise JiraError(404, f"The property with key '{prop}' does not exist.")
        return jsonify({"key": prop, "value": issue.properties[prop]})


@rest.put("/issue/<key>/properties/<prop>")
def set_property(key: str, prop: str) -> Response:
    value = _body()
    size = len(json.dumps(value).encode())
    created = issues.set_property(_sb().state, g.site, key, prop, value, size)
    return Response(status=201 if created else 200)


@rest.delete("/issue/<key>/properties/<prop>")
def delete_property(key: str, prop: str) -> Response:
    state = _sb().state
    with state.lock:
        issue = state.site(g.site).issue(key)
        if prop not in issue.properties:
            raise JiraError(404, f"The property with key '{prop}' does not exist.")
        del issue.properties[prop]
    return _no_content()
