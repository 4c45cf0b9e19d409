"""auth.atlassian.com and the OAuth part of api.atlassian.com over HTTP:
`/authorize` (consent page and its form POST), `/oauth/token`, `/oauth/revoke` and
`/oauth/token/accessible-resources`."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, request

from sandbox import consent, scopes
from sandbox.context import sandbox_of
from sandbox.errors import GatewayError
from sandbox.oauth import Consent, OAuthClient, OAuthError
from sandbox.seed import integration_account_id

if TYPE_CHECKING:
    from sandbox.core import Sandbox

oauth_http = Blueprint("sandbox_oauth", __name__)

AUDIENCE = "api.atlassian.com"
FORWARDED = ("audience", "client_id", "scope", "redirect_uri", "state", "response_type", "prompt")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _sb() -> Sandbox:
    return sandbox_of(current_app)


class PageError(Exception):
    """An authorisation error shown as a page: the redirect URI cannot be trusted."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


class RedirectError(Exception):
    """An authorisation error sent back to the app's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass(frozen=True)
class AuthorizeRequest:
    """A checked `/authorize` request."""

    client: OAuthClient
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    params: dict[str, str]


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _check(values: Any) -> AuthorizeRequest:
    """Validate in Atlassian's order: client and redirect URI first (error page), then the
    rest (error sent to the redirect URI)."""
    client = _sb().oauth.client(values.get("client_id", ""))
    if client is None:
        raise PageError("invalid_client", "Unknown client_id: the app is not registered.")
    redirect_uri = values.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise PageError(
            "invalid_request", "The redirect_uri does not match a callback URL of the app."
        )
    if values.get("response_type") != "code":
        raise RedirectError("unsupported_response_type", "response_type must be 'code'.")
    if values.get("audience") != AUDIENCE:
        raise RedirectError("invalid_request", f"audience must be '{AUDIENCE}'.")
    requested = tuple(dict.fromkeys(values.get("scope", "").split()))
    unknown = scopes.unknown_scopes(requested)
    if not requested or unknown:
        raise RedirectError("invalid_scope", f"Unknown or missing scope: {' '.join(unknown)}")
    params = {k: values[k] for k in FORWARDED if k in values}
    return AuthorizeRequest(client, redirect_uri, requested, values.get("state", ""), params)


def _page_error(exc: PageError) -> Response:
    return Response(consent.error_page(exc.error, exc.description), 400, mimetype="text/html")


def _redirect_error(request_values: Any, exc: RedirectError) -> Response:
    params = {"error": exc.error, "error_description": exc.description}
    if request_values.get("state"):
        params["state"] = request_values["state"]
    return redirect(_with_query(request_values["redirect_uri"], params), 302)


@oauth_http.get("/authorize")
def authorize_page() -> Response:
    try:
        checked = _check(request.args)
    except PageError as exc:
        return _page_error(exc)
    except RedirectError as exc:
        return _redirect_error(request.args, exc)
    state = _sb().state
    with state.lock:
        sites = [(name, state.site_url(name)) for name in state.sites]
        common = set.intersection(*(set(s.users) for s in state.sites.values()))
        first = next(iter(state.sites.values()))
        accounts = [first.users[a] for a in first.users if a in common]
    html = consent.consent_page(
        checked.client.name,
        checked.params,
        checked.scopes,
        sites,
        accounts,
        integration_account_id(_sb().config.seed),
    )
    return Response(html, mimetype="text/html")


def _chosen_sites() -> tuple[str, ...]:
    chosen = [s.strip() for v in request.form.getlist("site") for s in v.split(",") if s.strip()]
    state = _sb().state
    if not chosen:
        chosen = [next(iter(state.sites))]
    unknown = [name for name in chosen if name not in state.sites]
    if unknown:
        raise PageError("invalid_request", f"Unknown site: {', '.join(unknown)}")
    return tuple(dict.fromkeys(chosen))


def _chosen_account(sites: tuple[str, ...]) -> str:
    account = request.form.get("account_id") or integration_account_id(_sb().config.seed)
    state = _sb().state
    with state.lock:
        if any(account not in state.sites[name].users for name in sites):
            raise PageError("invalid_request", f"Account {account} is not a user of every site.")
    return account


@oauth_http.post("/authorize")
def authorize_decision() -> Response:
    """The consent form's POST: approve -> `?code=&state=`, deny -> `?error=access_denied`."""
    values = request.form
    try:
        checked = _check(values)
        if values.get("decision") != "approve":
            raise RedirectError("access_denied", "The user denied the request.")
        sites = _chosen_sites()
        account = _chosen_account(sites)
    except PageError as exc:
        return _page_error(exc)
    except RedirectError as exc:
        return _redirect_error(values, exc)
    code = _sb().oauth.issue_code(
        Consent(checked.client.client_id, checked.redirect_uri, checked.scopes, sites, account)
    )
    params = {"code": code}
    if checked.state:
        params["state"] = checked.state
    return redirect(_with_query(checked.redirect_uri, params), 302)


def _token_params() -> dict[str, str]:
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        raise OAuthError(400, "invalid_request", "The request body must be JSON or a form.")
    params = {k: str(v) for k, v in data.items() if v is not None}
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic ") and "client_id" not in params:
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError(401, "access_denied", "Unauthorized") from None
        params.update(client_id=user, client_secret=password)
    return params


def _need(params: dict[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not params.get(name)]
    if missing:
        raise OAuthError(400, "invalid_request", f"Missing required parameter: {missing[0]}")
    return [params[name] for name in names]


@oauth_http.post("/oauth/token")
def token() -> tuple[Response, int, dict[str, str]]:
    oauth = _sb().oauth
    try:
        params = _token_params()
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code":
            args = _need(params, "client_id", "client_secret", "code", "redirect_uri")
            body = oauth.exchange_code(*args)
        elif grant_type == "refresh_token":
            body = oauth.refresh(*_need(params, "client_id", "client_secret", "refresh_token"))
        else:
            raise OAuthError(403, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
    except OAuthError as exc:
        return jsonify(exc.body()), exc.status, NO_STORE
    return jsonify(body), 200, NO_STORE


@oauth_http.post("/oauth/revoke")
def revoke() -> tuple[Response, int]:
    """RFC 7009 token revocation: 200 whether or not the token was known."""
    try:
        params = _token_params()
        _sb().oauth.revoke_token(*_need(params, "client_id", "client_secret", "token"))
    except OAuthError as exc:
        return jsonify(exc.body()), exc.status
    return jsonify({}), 200


def bearer_access(header: str | None) -> Any:
    """The Access a `Bearer` header carries; a gateway 401 otherwise."""
    if not header or not header.startswith("Bearer "):
        raise GatewayError(401, "Unauthorized", "A Bearer access token is required.")
    found = _sb().oauth.resolve(header[7:].strip())
    if isinstance(found, str):
        raise GatewayError(401, "Unauthorized", found)
    return found


@oauth_http.get("/oauth/token/accessible-resources")
def accessible_resources() -> Response:
    access = bearer_access(request.headers.get("Authorization"))
    state = _sb().state
    shown = [s for s in access.scopes if s != scopes.OFFLINE]
    with state.lock:
        return jsonify(
            [
                {
                    "id": state.sites[name].cloud_id,
                    "url": state.site_url(name),
                    "name": name,
                    "scopes": shown,
                    "avatarUrl": f"{state.public_url}/avatars/site/{name}.png",
                }
                for name in access.sites
                if name in state.sites
            ]
        )
