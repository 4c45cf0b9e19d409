"""Paging through a JQL search on one site."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jira.client import JiraClient

PAGE_SIZE = 50


def search_page(
    client: JiraClient, jql: str, token: str | None, fields: tuple[str, ...] = ("updated",)
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of issues (id, key, the given fields) and the token of the next page."""
    body: dict[str, Any] = {"jql": jql, "maxResults": PAGE_SIZE, "fields": list(fields)}
    if token:
        body["nextPageToken"] = token
    page = client.call("search", json=body).json()
    return page.get("issues", []), page.get("nextPageToken")


def search_all(client: JiraClient, jql: str, max_pages: int = 20) -> Iterator[dict[str, Any]]:
    """Every issue the JQL finds, page by page (bounded)."""
    token: str | None = None
    for _ in range(max_pages):
        issues, token = search_page(client, jql, token)
        yield from issues
        if not token:
            return


def project_jql(project: str, extra: str = "", order: str = "ORDER BY key ASC") -> str:
    """``project = KEY`` narrowed by the integration's own JQL, with an order."""
    jql = f"project = {project}"
    if extra.strip():
        jql += f" AND ({extra.strip()})"
    return f"{jql} {order}"
