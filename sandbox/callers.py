"""Who is calling the REST API: a Connect app (JWT on the site URL) or an OAuth 2.0 app
(Bearer token on the api.atlassian.com-style gateway URL), and as whom it acts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import request

from sandbox.errors import GatewayError, JiraError
from sandbox.jwt_checks import JwtRejected, verify_app_token
from sandbox.oauth_http import bearer_access

if TYPE_CHECKING:
    from sandbox.core import Sandbox

CONNECT, OAUTH, FORGE = "connect", "oauth", "forge"


@dataclass(frozen=True)
class Caller:
    """An authenticated app: its kind, its id (app key or client id), the site, the account
    its changes are made as, and the scopes it holds there."""

    kind: str
    app: str
    site: str
    actor: str
    scopes: tuple[str, ...]


def relative_request_url(site: str) -> str:
    """This request's path and query relative to the site's base URL, undecoded."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        path, _, query = raw.partition("?")
    else:
        path, query = request.path, request.query_string.decode("latin-1")
    path = path[len(f"/jira/{site}") :]
    return f"{path}?{query}" if query else path


def connect_caller(sandbox: Sandbox, site: str) -> Caller:
    """A Connect app's call: `Authorization: JWT` (HS256, sharedSecret, qsh); 401 otherwise."""
    state = sandbox.state
    with state.lock:
        state.site(site)

    def secret_for(app_key: str) -> str | None:
        inst = state.installation(site, app_key)
        return inst.shared_secret if inst is not None and inst.enabled else None

    try:
        claims = verify_app_token(
            request.headers.get("Authorization"),
            request.method,
            relative_request_url(site),
            secret_for,
            leeway=sandbox.config.token_leeway,
        )
    except JwtRejected as exc:
        raise JiraError(401, str(exc)) from None
    inst = state.installation(site, claims["iss"])
    if inst is None:
        raise JiraError(401, "The app was uninstalled.")
    return Caller(CONNECT, inst.app_key, site, inst.app_account_id, tuple(inst.scopes))


def oauth_caller(sandbox: Sandbox, site: str) -> Caller:
    """An OAuth app's call: a live Bearer token whose grant covers the site, or a Forge
    app's with its app system token for the installation's site; 401 otherwise."""
    header = request.headers.get("Authorization") or ""
    if header.startswith("Bearer "):
        try:
            forge = sandbox.forge.caller(header[7:].strip(), site)
        except ValueError as exc:
            raise GatewayError(401, "Unauthorized", str(exc)) from None
        if forge is not None:
            return Caller(FORGE, forge[0], site, forge[1], forge[2])
    access = bearer_access(header)
    if site not in access.sites:
        raise GatewayError(401, "Unauthorized", "The grant does not cover this site.")
    return Caller(OAUTH, access.client_id, site, access.account_id, access.scopes)
