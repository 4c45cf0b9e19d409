"""The dashboard's JSON auth API under ``/api/auth``: sign in and out, the session,
password change, reset, invitation acceptance and the second factor.

Every refusal of a sign-in (unknown address, wrong password, wrong code, locked account)
is the same ``401`` with the same body. Signing in always issues a new session id (and
ends the one the request came with); a password change keeps only a fresh session.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue

from auth.account_tokens import BadToken
from auth.email_keys import InvalidEmail
from auth.invitations import InvitationRefused, accept
from auth.login import OK, TOTP_REQUIRED, authenticate
from auth.passwords import WeakPassword
from auth.resets import WrongPassword, complete_reset, request_reset
from auth.resets import change_password as change_own_password
from auth.roles import principal, requires_role
from auth.token_use import TokenRefused
from auth.totp import TotpError, second_factor_action
from handlers.session_cookie import (
    account_service,
    clear_session_cookie,
    refuse,
    rotate_session,
    set_session_cookie,
)

auth_api = Blueprint("auth_api", __name__, url_prefix="/api/auth")
SIGN_IN_REFUSED = "the email address or password is wrong, or the account is locked"
RESET_ASKED = "if that address has an account, a reset link is on its way"


def json_body() -> dict[str, Any]:
    """The JSON object the request sent, or an empty one (fields are then missing)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def sign_in_refused() -> Response:
    return refuse(401, SIGN_IN_REFUSED)


def start_session(tenant_id: Any, account_id: Any) -> tuple[Response, str]:
    """A new session for the account (the old one ends); (response, CSRF token)."""
    session_id, record = rotate_session(tenant_id, account_id)
    response = jsonify(account_id=str(account_id), csrf_token=record.csrf_token)
    set_session_cookie(response, session_id)
    response.headers["Cache-Control"] = "no-store"
    return response, record.csrf_token


@auth_api.post("/login")
def login() -> ResponseReturnValue:
    body = json_body()
    result = authenticate(
        account_service(), body.get("email"), body.get("password"), body.get("totp")
    )
    if result.outcome == TOTP_REQUIRED:
        return refuse(401, "enter the code from your authenticator app (totp)")
    if result.outcome != OK:
        return sign_in_refused()
    response, _ = start_session(result.tenant_id, result.account_id)
    return response


@auth_api.post("/logout")
@requires_role("viewer")
def logout() -> ResponseReturnValue:
    account_service().sessions.end(g.session_record)
    response = Response(status=204)
    clear_session_cookie(response)
    return response


@auth_api.get("/session")
@requires_role("viewer")
def session_info() -> ResponseReturnValue:
    who = principal()
    response = jsonify(
        account_id=str(who.account_id),
        workspace=str(who.tenant_id),
        role=who.role,
        csrf_token=g.session_record.csrf_token,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@auth_api.post("/password")
@requires_role("viewer")
def change_password() -> ResponseReturnValue:
    body, service, who = json_body(), account_service(), principal()
    try:
        change_own_password(
            service,
            who.tenant_id,
            who.account_id,
            body.get("current_password"),
            body.get("new_password"),
            who.actor,
        )
    except WrongPassword as error:
        return refuse(403, str(error))
    except WeakPassword as error:
        return refuse(400, str(error))
    service.sessions.end_all(who.account_id)
    response, _ = start_session(who.tenant_id, who.account_id)
    return response


@auth_api.post("/reset")
def request_reset_link() -> ResponseReturnValue:
    try:
        request_reset(account_service(), json_body().get("email"))
    except InvalidEmail as error:
        return refuse(400, f"email: {error}")
    return jsonify(message=RESET_ASKED), 202


@auth_api.post("/reset/complete")
def complete_reset_link() -> ResponseReturnValue:
    body = json_body()
    try:
        complete_reset(account_service(), body.get("token"), body.get("password"))
    except (BadToken, TokenRefused, WeakPassword) as error:
        return refuse(400, str(error))
    return Response(status=204)


@auth_api.post("/invitations/accept")
def accept_invitation_link() -> ResponseReturnValue:
    body = json_body()
    try:
        accepted = accept(account_service(), body.get("token"), body.get("password"))
    except (BadToken, TokenRefused, WeakPassword, InvalidEmail) as error:
        return refuse(400, str(error))
    except InvitationRefused as error:
        return refuse(409, str(error))
    return jsonify(account_id=str(accepted.account_id), role=accepted.role), 201


def _own_account(action: str) -> ResponseReturnValue:
    """Run a second-factor action on the caller's own account."""
    who = principal()
    try:
        uri = second_factor_action(
            account_service(), who.tenant_id, who.account_id, action, json_body().get("code")
        )
    except TotpError as error:
        return refuse(400, str(error))
    return jsonify(provisioning_uri=uri) if uri else Response(status=204)


@auth_api.post("/totp/setup")
@requires_role("viewer")
def totp_setup() -> ResponseReturnValue:
    return _own_account("setup")


@auth_api.post("/totp/enable")
@requires_role("viewer")
def totp_enable() -> ResponseReturnValue:
    return _own_account("enable")


@auth_api.post("/totp/disable")
@requires_role("viewer")
def totp_disable() -> ResponseReturnValue:
    return _own_account("disable")
