"""The marks Tandem leaves on issues it mirrors; clean-up removes every one of them."""

from __future__ import annotations

SYNC_LABEL = "tandem-synced"
DELETED_LABEL = "tandem-source-deleted"
LINK_PROPERTY = "tandem.link"
ATTRIBUTION_PREFIX = "\u2014 mirrored by Tandem from"


def attribution_line(author: str, issue_key: str) -> str:
    """The line appended to a mirrored comment, naming its author and issue."""
    return f"{ATTRIBUTION_PREFIX} {issue_key}, written by {author}"


def link_property(integration_id: str, source_key: str, source_site: str) -> dict[str, str]:
    """The issue property set on a mirror: which integration and issue it mirrors."""
    return {"integration": integration_id, "source": source_key, "site": source_site}
