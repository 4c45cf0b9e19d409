"""How a failed Jira call is classed: retry later, a person must fix it, or re-authorise."""

from __future__ import annotations


class JiraError(Exception):
    """A Jira call failed; ``str(error)`` is in plain words and safe to show."""

    kind = "permanent"

    def __init__(self, message: str, status: int | None = None, call: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.call = call


class TransientError(JiraError):
    """Worth retrying later: time-outs, connection errors, 429, 5xx."""

    kind = "transient"


class CredentialsPending(TransientError):
    """No usable credentials yet: a Forge installation whose app system token expired.
    The work waits for the next token (the next Forge invocation or the hourly trigger)
    instead of failing; ``waiting_on`` names the installation it waits for."""

    def __init__(self, message: str, waiting_on: str = "", call: str = "") -> None:
        super().__init__(message, None, call)
        self.waiting_on = waiting_on


class PermanentError(JiraError):
    """A 4xx a person must fix (bad field, missing issue, workflow refuses)."""

    kind = "permanent"


class AuthorizationError(JiraError):
    """Jira does not accept our credentials (401/403): the grant is gone or lacks a scope."""

    kind = "authorization"


def error_text(payload: object) -> str:
    """Jira's ``errorMessages`` and ``errors`` (or the API gateway's ``message``) joined
    into one line."""
    if not isinstance(payload, dict):
        return ""
    messages = [str(m) for m in payload.get("errorMessages") or []]
    if not messages and isinstance(payload.get("message"), str):
        messages.append(payload["message"])
    errors = payload.get("errors") or {}
    if isinstance(errors, dict):
        messages += [f"{field}: {message}" for field, message in errors.items()]
    return "; ".join(messages)[:500]
