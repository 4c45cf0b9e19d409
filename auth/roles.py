"""Roles per workspace and the one check every write route goes through.

owner > admin > member > viewer. ``requires_role(role, surface)`` decorates a route and
records it in ``ROUTE_RULES``, so a test can enumerate every write route with the role it
needs (tests/test_roles.py fails for an unsafe route that is neither registered here nor
declared in ``NOT_ROLE_CHECKED`` with a reason).

Two surfaces:

- ``dashboard``: a session cookie (auth/sessions.py); every unsafe method must also send
  the session's CSRF token (``X-CSRF-Token`` header or ``csrf_token`` form field),
  compared in constant time. The role is read from ``memberships`` on every request.
- ``jira``: a Connect JWT from the iframe (HS256 with the installation's sharedSecret,
  ``context-qsh`` allowed) whose ``sub`` is the user's Atlassian account id. The role is
  that account's membership, else ``viewer`` (every user of the site may look). Rules
  with ``jira_admin`` (the admin pages) also confirm Jira's ADMINISTER permission with
  the site itself (auth/jira_admin.py). A rule with ``bootstrap`` lets a confirmed Jira
  admin through while the workspace has no owner yet (issuing the first owner's
  invitation).

The resolved caller is ``g.principal``; its ``actor`` string is what audit rows name.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g, request
from flask.typing import ResponseReturnValue

ROLE_ORDER = ("viewer", "member", "admin", "owner")  # lowest first
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SURFACES = ("dashboard", "jira")


def rank(role: str) -> int:
    """0 for viewer up to 3 for owner; -1 for anything else."""
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else -1


def at_least(role: str, needed: str) -> bool:
    return rank(role) >= rank(needed) >= 0


def may_grant(actor_role: str, role: str) -> bool:
    """Admins grant up to admin; only an owner makes another owner."""
    return at_least(actor_role, "admin") and at_least(actor_role, role)


@dataclass(frozen=True)
class Principal:
    """Who is calling, in which workspace, with which role."""

    tenant_id: uuid.UUID
    role: str
    actor: str  # "account:<id>" or "jira:<account id>"
    account_id: uuid.UUID | None = None
    atlassian_account_id: str | None = None
    bootstrap: bool = False  # a Jira admin acting as owner while the workspace has none

    @property
    def granting_role(self) -> str:
        """The role whose grants this caller may make."""
        return "owner" if self.bootstrap else self.role


@dataclass(frozen=True)
class RouteRule:
    """What a route needs."""

    role: str
    surface: str
    jira_admin: bool = False
    bootstrap: bool = False


ROUTE_RULES: dict[str, RouteRule] = {}  # view function qualified name -> rule

# Unsafe routes without a role check, and why (the role matrix test reads this).
NOT_ROLE_CHECKED: dict[str, str] = {
    "connect.installed": "Atlassian's signed lifecycle callback (RS256), no user",
    "connect.uninstalled": "Atlassian's signed lifecycle callback (RS256), no user",
    "connect.enabled": "Atlassian's lifecycle callback (installation JWT), no user",
    "connect.disabled": "Atlassian's lifecycle callback (installation JWT), no user",
    "webhooks.receive": "Jira webhook (installation JWT), no user",
    "oauth_webhooks.receive": "dynamic webhook of an OAuth site (client-secret JWT), no user",
    "exports.start": "installation JWT; moves under an admin role with the admin pages",
    "cleanup.start": "installation JWT; moves under an admin role with the admin pages",
    "forge.lifecycle": "Forge invocation token signed by Atlassian, no user",
    "forge.product_event": "Forge invocation token signed by Atlassian, no user",
    "forge.scheduled": "Forge invocation token signed by Atlassian, no user",
    "auth_api.login": "signing in: rate-limited per IP and per account name",
    "auth_api.request_reset_link": "asking for a reset link: rate-limited per IP and address",
    "auth_api.complete_reset_link": "holder of a single-use reset link: rate-limited per IP",
    "auth_api.accept_invitation_link": "holder of a single-use invitation: rate-limited per IP",
    "auth_pages.login": "the sign-in form (as auth_api.login; double-submit CSRF token)",
    "auth_pages.request_reset": "the reset form (as auth_api.request_reset_link)",
    "auth_pages.complete_reset": "the new-password form (as auth_api.complete_reset_link)",
    "auth_pages.accept_invitation": "the invitation form (as auth_api.accept_invitation_link)",
}


def qualified(view: Callable[..., Any]) -> str:
    return f"{view.__module__}.{view.__qualname__}"


def rule_for(view: Callable[..., Any]) -> RouteRule | None:
    """The rule a (decorated) view function was registered with."""
    return ROUTE_RULES.get(qualified(view))


def requires_role(
    role: str, surface: str = "dashboard", jira_admin: bool = False, bootstrap: bool = False
) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., ResponseReturnValue]]:
    """Resolve the caller, refuse 401 (not signed in) / 403 (CSRF, role, Jira admin),
    then run the view with ``g.principal`` set."""
    if role not in ROLE_ORDER or surface not in SURFACES:
        raise ValueError(f"bad rule {role!r} on {surface!r}")
    rule = RouteRule(role, surface, jira_admin, bootstrap)

    def decorate(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            from handlers.principals import resolve  # the handlers import this module

            refused = resolve(rule, request.method in UNSAFE_METHODS)
            if refused is not None:
                return refused
            return view(*args, **kwargs)

        ROUTE_RULES[qualified(wrapper)] = rule
        return wrapper

    return decorate


def principal() -> Principal:
    """The caller the route's check resolved."""
    return g.principal
