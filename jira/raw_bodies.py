"""The raw bodies of the Jira responses one job read, collected for diagnosis.

Only successful answers to the reads that explain what a sync saw are kept: the issue,
search results, comments, transitions, the link property and users. Not kept: our own
writes' answers, attachment contents (files, and large), metadata lists (priorities,
types, the project), ``myself`` and the webhook registrations. Each is named by method
and path only: never the query string, never a header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jira.calls import JiraCall

if TYPE_CHECKING:
    import requests

KEPT_CALLS = frozenset(
    {
        "get_issue",
        "search",
        "get_comments",
        "get_transitions",
        "get_property",
        "get_user",
        "search_users",
    }
)
MAX_BODY_BYTES = 256 * 1024  # a longer body is kept truncated to this many bytes
MAX_BODIES = 50  # per job; the rest of a long job's reads are not kept


@dataclass
class RawBodies:
    """(source, body) of each kept response, in the order they were read."""

    bodies: list[tuple[str, bytes]] = field(default_factory=list)

    def keep(self, call: JiraCall, path: str, response: requests.Response) -> None:
        """Keep a successful response's body if its call is one worth keeping. ``path``
        is the call's path without its query string. The name is checked first, so a
        streamed download is never read here."""
        if call.name not in KEPT_CALLS or len(self.bodies) >= MAX_BODIES:
            return
        self.bodies.append((f"{call.method} {path}", response.content[:MAX_BODY_BYTES]))
