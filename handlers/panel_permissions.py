"""Who may press the issue panel's buttons.

Until the workspace roles (auth/roles.py) are in, every Jira user the token names
(``sub``) may: the panel's actions touch only the issue the user has open and its
mirror, and both are audited under the user's account id. ``PANEL_ACTIONS`` holds the
role each action will need once roles are checked (Jira users are members by their
Atlassian account id).
"""

from __future__ import annotations

from flask import g

PANEL_ACTIONS = {"sync": "member", "unlink": "member"}


def allowed_to(action: str) -> bool:
    """Whether the caller of this request may ``action`` ("sync" or "unlink")."""
    if action not in PANEL_ACTIONS:
        raise ValueError(f"unknown panel action {action!r}")
    return bool(g.connect_claims.get("sub"))
