"""Users over REST: `/user`, `/user/search` and `/user/bulk`. An email address shows only
when the person made it public (Atlassian's profile visibility); search matches names and
public emails only, so apps cannot discover hidden addresses."""

from __future__ import annotations

from flask import Response, current_app, g, jsonify, request

from sandbox import views
from sandbox.context import sandbox_of
from sandbox.errors import JiraError
from sandbox.rest import rest
from sandbox.state import User

MAX_USERS = 1000


def _page_args() -> tuple[int, int]:
    try:
        start = max(0, int(request.args.get("startAt", 0)))
        size = max(0, min(int(request.args.get("maxResults", 50)), MAX_USERS))
    except ValueError:
        raise JiraError(400, "startAt and maxResults must be numbers.") from None
    return start, size


def _matches(user: User, query: str) -> bool:
    query = query.lower()
    name = user.display_name.lower()
    if name.startswith(query) or any(word.startswith(query) for word in name.split()):
        return True
    return bool(user.email and user.email_public and user.email.lower().startswith(query))


@rest.get("/user")
def get_user() -> Response:
    state = sandbox_of(current_app).state
    account = request.args.get("accountId", "")
    with state.lock:
        site = state.site(g.site)
        if account not in site.users:
            raise JiraError(404, f"Specified user does not exist: {account}")
        return jsonify(views.user(site, state.site_url(g.site), account))


@rest.get("/user/search")
def user_search() -> Response:
    """People whose name (or public email) starts with `query`, or with that `accountId`."""
    query, account = request.args.get("query", ""), request.args.get("accountId", "")
    if not query and not account:
        raise JiraError(400, "The query parameter 'query' or 'accountId' must be provided.")
    start, size = _page_args()
    state = sandbox_of(current_app).state
    with state.lock:
        site, base = state.site(g.site), state.site_url(g.site)
        found = [
            u
            for u in site.users.values()
            if u.account_type == "atlassian"
            and (not account or u.account_id == account)
            and (not query or _matches(u, query))
        ]
        return jsonify([views.user(site, base, u.account_id) for u in found[start : start + size]])


@rest.get("/user/bulk")
def user_bulk() -> Response:
    """Several users by `accountId` (repeated), paged."""
    wanted = request.args.getlist("accountId")
    if not wanted:
        raise JiraError(400, "At least one accountId is required.")
    start, size = _page_args()
    state = sandbox_of(current_app).state
    with state.lock:
        site, base = state.site(g.site), state.site_url(g.site)
        found = [a for a in dict.fromkeys(wanted) if a in site.users]
        page = found[start : start + size]
        return jsonify(
            {
                "self": f"{base}/rest/api/3/user/bulk",
                "maxResults": size,
                "startAt": start,
                "total": len(found),
                "isLast": start + size >= len(found),
                "values": [views.user(site, base, a) for a in page],
            }
        )
