"""Issue search over REST: `/search/jql` (GET and POST, `nextPageToken` paging, bounded
JQL only, `id` only unless `fields` asks for more), `/search/approximate-count`, and the
older `/search` (`startAt` paging, all fields by default)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request

from sandbox import search
from sandbox.context import sandbox_of
from sandbox.errors import JiraError
from sandbox.rest import rest
from sandbox.state import SandboxState


def _state() -> SandboxState:
    return sandbox_of(current_app).state


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise JiraError(400, "The request body must be a JSON object.")
    return data


def _base() -> str:
    return _state().site_url(g.site)


@rest.get("/search/jql")
def search_jql_get() -> Response:
    args = request.args
    return jsonify(
        search.search_jql(
            _state(),
            g.site,
            _base(),
            args.get("jql", ""),
            args.getlist("fields"),
            args.get("maxResults"),
            args.get("nextPageToken"),
        )
    )


@rest.post("/search/jql")
def search_jql_post() -> Response:
    body = _json()
    return jsonify(
        search.search_jql(
            _state(),
            g.site,
            _base(),
            str(body.get("jql") or ""),
            body.get("fields"),
            body.get("maxResults"),
            body.get("nextPageToken"),
        )
    )


@rest.post("/search/approximate-count")
def approximate_count() -> Response:
    return jsonify(search.approximate_count(_state(), g.site, str(_json().get("jql") or "")))


@rest.get("/search")
def search_get() -> Response:
    args = request.args
    return jsonify(
        search.search_legacy(
            _state(),
            g.site,
            _base(),
            args.get("jql", ""),
            args.getlist("fields"),
            args.get("maxResults"),
            args.get("startAt"),
        )
    )


@rest.post("/search")
def search_post() -> Response:
    body = _json()
    return jsonify(
        search.search_legacy(
            _state(),
            g.site,
            _base(),
            str(body.get("jql") or ""),
            body.get("fields"),
            body.get("maxResults"),
            body.get("startAt"),
        )
    )
