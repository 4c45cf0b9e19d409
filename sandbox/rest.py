"""The Jira Cloud REST API v3 subset apps call, under `/jira/{site}/rest/api/3`.

Every call needs `Authorization: JWT <token>` from an installed, enabled app (see
jwt_checks); changes are made as the app's user and fire webhooks like Jira's.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from sandbox import issues, views
from sandbox.context import sandbox_of
from sandbox.core import Sandbox
from sandbox.errors import JiraError
from sandbox.jwt_checks import JwtRejected, verify_app_token

rest = Blueprint("sandbox_rest", __name__, url_prefix="/jira/<site>/rest/api/3")


def _sb() -> Sandbox:
    return sandbox_of(current_app)


def relative_request_url(site: str) -> str:
    """This request's path and query relative to the site's base URL, undecoded."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        path, _, query = raw.partition("?")
    else:
        path, query = request.path, request.query_string.decode("latin-1")
    path = path[len(f"/jira/{site}") :]
    return f"{path}?{query}" if query else path


@rest.url_value_preprocessor
def _take_site(endpoint: str | None, values: dict[str, Any] | None) -> None:
    g.site = (values or {}).pop("site", "")


@rest.before_request
def _authenticate() -> None:
    state = _sb().state
    with state.lock:
        state.site(g.site)

    def secret_for(app_key: str) -> str | None:
        inst = state.installation(g.site, app_key)
        return inst.shared_secret if inst is not None and inst.enabled else None

    try:
        claims = verify_app_token(
            request.headers.get("Authorization"),
            request.method,
            relative_request_url(g.site),
            secret_for,
            leeway=_sb().config.token_leeway,
        )
    except JwtRejected as exc:
        raise JiraError(401, str(exc)) from None
    inst = state.installation(g.site, claims["iss"])
    if inst is None:
        raise JiraError(401, "The app was uninstalled.")
    g.actor = inst.app_account_id


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


@rest.get("/user")
def get_user() -> Response:
    state = _sb().state
    account = request.args.get("accountId", "")
    with state.lock:
        site = state.site(g.site)
        if account not in site.users:
            raise JiraError(404, f"Specified user does not exist: {account}")
        return jsonify(views.user(site, _base(), account))


@rest.get("/project/<id_or_key>")
def get_project(id_or_key: str) -> Response:
    state = _sb().state
    with state.lock:
        site = state.site(g.site)
        found = site.project(id_or_key)
        if found is None:
            raise JiraError(404, f"No project could be found with key '{id_or_key}'.")
        return jsonify(views.project_detail(site, _base(), found))


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
    ref, events = issues.create_issue(_sb().state, g.site, g.actor, fields)
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
