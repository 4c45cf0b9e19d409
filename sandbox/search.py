"""Issue search: JQL over a site's issues, paged the way `/search/jql` (opaque
`nextPageToken`, `isLast`) and the older `/search` (`startAt`, `total`) page."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from sandbox import jql, views
from sandbox.errors import JiraError
from sandbox.state import SandboxState, Site

DEFAULT_MAX = 50
MAX_RESULTS = 100
UNBOUNDED = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)
ALL_FIELDS = frozenset({"*all", "*navigable"})


def parse_query(site: Site, text: str, bounded: bool) -> jql.Query:
    """The parsed JQL; a Jira 400 for bad or (if `bounded`) unrestricted queries."""
    try:
        query = jql.parse(text, site)
    except jql.JqlError as exc:
        raise JiraError(400, str(exc)) from None
    if bounded and not query.bounded:
        raise JiraError(400, UNBOUNDED)
    return query


def matching(site: Site, query: jql.Query) -> list[jql.IssueFacts]:
    """Every issue the query matches, in its order."""
    found = [jql.facts(site, issue) for issue in site.issues.values()]
    return query.sort([item for item in found if query.matches(item)])


def field_names(raw: Any) -> list[str]:
    """`fields` as a list, from `a,b` strings, repeated parameters or a JSON list."""
    items = raw if isinstance(raw, list) else [raw] if raw else []
    return [name.strip() for item in items for name in str(item).split(",") if name.strip()]


def _view(site: Site, base: str, issue_id: str, names: list[str] | None) -> dict[str, Any]:
    """One result: all fields (None), just the id, or the named fields (`-x` drops x)."""
    if names is not None and set(names) <= {"id"}:
        return {"id": issue_id}
    issue = site.issues[issue_id]
    only = None
    if names is not None and not set(names) & ALL_FIELDS:
        only = {n for n in names if not n.startswith("-")} or None
    body = views.issue(site, base, issue, only=only)
    for name in names or []:
        if name.startswith("-"):
            body["fields"].pop(name[1:], None)
    return body


def _clamp(raw: Any, low: int) -> int:
    try:
        wanted = int(raw) if raw not in (None, "") else DEFAULT_MAX
    except (TypeError, ValueError):
        raise JiraError(400, "maxResults must be a number.") from None
    return max(low, min(wanted, MAX_RESULTS))


def _token(text: str, offset: int) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    raw = json.dumps({"q": digest, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(text: str, token: Any) -> int:
    if not token:
        return 0
    try:
        padded = str(token) + "=" * (-len(str(token)) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        if data["q"] == hashlib.sha256(text.encode()).hexdigest()[:16]:
            return int(data["o"])
    except (ValueError, KeyError, TypeError):
        pass
    raise JiraError(400, "The provided next page token is invalid or expired.")


def search_jql(
    state: SandboxState,
    site_name: str,
    base: str,
    text: str,
    fields: Any = None,
    max_results: Any = None,
    page_token: Any = None,
) -> dict[str, Any]:
    """`/search/jql`: `{"issues", "isLast"[, "nextPageToken"]}`; fields default to `id`."""
    names = field_names(fields) or ["id"]
    size = _clamp(max_results, 1)
    with state.lock:
        site = state.site(site_name)
        query = parse_query(site, text, bounded=True)
        offset = _offset(query.text, page_token)
        found = matching(site, query)
        page = found[offset : offset + size]
        body: dict[str, Any] = {"issues": [_view(site, base, i.id, names) for i in page]}
    is_last = offset + size >= len(found)
    if not is_last:
        body["nextPageToken"] = _token(query.text, offset + size)
    body["isLast"] = is_last
    return body


def search_legacy(
    state: SandboxState,
    site_name: str,
    base: str,
    text: str,
    fields: Any = None,
    max_results: Any = None,
    start_at: Any = None,
) -> dict[str, Any]:
    """The older `/search`: `{"startAt", "maxResults", "total", "issues"}`, all fields."""
    names = field_names(fields) or None
    size = _clamp(max_results, 0)
    try:
        offset = max(0, int(start_at or 0))
    except (TypeError, ValueError):
        raise JiraError(400, "startAt must be a number.") from None
    with state.lock:
        site = state.site(site_name)
        found = matching(site, parse_query(site, text, bounded=False))
        page = found[offset : offset + size]
        issues = [_view(site, base, i.id, names) for i in page]
    return {
        "expand": "schema,names",
        "startAt": offset,
        "maxResults": size,
        "total": len(found),
        "issues": issues,
    }


def approximate_count(state: SandboxState, site_name: str, text: str) -> dict[str, int]:
    """`/search/approximate-count`: how many issues match (exactly, here)."""
    with state.lock:
        site = state.site(site_name)
        return {"count": len(matching(site, parse_query(site, text, bounded=True)))}
