"""Server-rendered forms for people: sign in, ask for a reset, set a new password from a
reset link, accept an invitation, and a minimal signed-in page with sign-out.

Element ids and field names are stable (browser tests build on them): ``login-form``,
``login-email``, ``login-password``, ``login-totp``, ``login-submit``,
``reset-request-form``, ``reset-email``, ``reset-complete-form``, ``accept-form``,
``new-password``, ``logout-form``, ``form-error``, ``form-notice``.

Forms shown before sign-in carry a double-submit CSRF token: a random value in a
``SameSite=Lax``, ``HttpOnly`` cookie that the form must repeat (constant-time compare).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request
from flask.typing import ResponseReturnValue

from auth.account_tokens import BadToken
from auth.email_keys import InvalidEmail
from auth.invitations import InvitationRefused, accept
from auth.login import OK, TOTP_REQUIRED, authenticate
from auth.passwords import WeakPassword
from auth.resets import complete_reset as finish_reset
from auth.resets import request_reset as ask_for_reset
from auth.roles import principal, requires_role
from auth.token_use import TokenRefused
from handlers.auth_api import RESET_ASKED, SIGN_IN_REFUSED
from handlers.session_cookie import (
    account_service,
    clear_session_cookie,
    rotate_session,
    secure,
    set_session_cookie,
)

auth_pages = Blueprint("auth_pages", __name__, url_prefix="/auth")
FORM_COOKIE = "tandem_form"
SIGNED_IN = "/auth/account"


def _form_cookie() -> str:
    return f"__Host-{FORM_COOKIE}" if secure() else FORM_COOKIE


def _render(template: str, status: int = 200, **context: Any) -> Response:
    token = request.cookies.get(_form_cookie()) or secrets.token_urlsafe(32)
    context.setdefault("csrf_token", token)
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    response.set_cookie(
        _form_cookie(), token, secure=secure(), httponly=True, samesite="Lax", path="/"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # reset / invitation links hold tokens
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _form_token_ok() -> bool:
    sent, held = request.form.get("csrf_token", ""), request.cookies.get(_form_cookie(), "")
    return bool(sent and held) and hmac.compare_digest(sent.encode(), held.encode())


def _safe_next(raw: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme), else the account page."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return SIGNED_IN


@auth_pages.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    title, nxt = "Sign in", _safe_next(request.values.get("next"))
    if request.method == "GET":
        return _render("auth/login.html", title=title, next=nxt, email="")
    email = request.form.get("email", "")
    if not _form_token_ok():
        return _render(
            "auth/login.html",
            400,
            title=title,
            next=nxt,
            email=email,
            error="the form expired: please sign in again",
        )
    result = authenticate(
        account_service(), email, request.form.get("password"), request.form.get("totp")
    )
    if result.outcome != OK:
        error = SIGN_IN_REFUSED
        if result.outcome == TOTP_REQUIRED:
            error = "enter the code from your authenticator app"
        return _render("auth/login.html", 401, title=title, next=nxt, email=email, error=error)
    session_id, _ = rotate_session(result.tenant_id, result.account_id)
    response = redirect(nxt, code=303)
    set_session_cookie(response, session_id)
    return response


@auth_pages.route("/reset", methods=["GET", "POST"])
def request_reset() -> ResponseReturnValue:
    title = "Reset your password"
    if request.method == "GET":
        return _render("auth/reset_request.html", title=title)
    if not _form_token_ok():
        return _render(
            "auth/reset_request.html", 400, title=title, error="the form expired: please try again"
        )
    try:
        ask_for_reset(account_service(), request.form.get("email"))
    except InvalidEmail as error:
        return _render("auth/reset_request.html", 400, title=title, error=str(error))
    return _render("auth/reset_request.html", 202, title=title, notice=RESET_ASKED)


def _new_password_page(
    form_id: str, action: str, title: str, button: str, run: Callable[[str, object], str]
) -> Response:
    """The new-password form of a reset or an invitation link; ``run`` redeems it."""
    token = request.values.get("token", "")
    context = {
        "form_id": form_id,
        "action": action,
        "title": title,
        "button": button,
        "token": token,
    }
    if request.method == "GET":
        return _render("auth/new_password.html", **context)
    if not _form_token_ok():
        return _render(
            "auth/new_password.html", 400, error="the form expired: try again", **context
        )
    try:
        notice = run(token, request.form.get("password"))
    except (BadToken, TokenRefused, WeakPassword, InvalidEmail) as error:
        return _render("auth/new_password.html", 400, error=str(error), **context)
    except InvitationRefused as error:
        return _render("auth/new_password.html", 409, error=str(error), **context)
    return _render("auth/new_password.html", 200, notice=notice, **{**context, "token": ""})


@auth_pages.route("/reset/complete", methods=["GET", "POST"])
def complete_reset() -> ResponseReturnValue:
    def run(token: str, password: object) -> str:
        finish_reset(account_service(), token, password)
        return "your password is changed: sign in with it now"

    return _new_password_page(
        "reset-complete-form", "/auth/reset/complete", "Choose a new password", "Save", run
    )


@auth_pages.route("/accept", methods=["GET", "POST"])
def accept_invitation() -> ResponseReturnValue:
    def run(token: str, password: object) -> str:
        accept(account_service(), token, password)
        return "your account is ready: sign in with your email address and this password"

    return _new_password_page(
        "accept-form", "/auth/accept", "Accept your invitation", "Create my account", run
    )


@auth_pages.get("/account")
@requires_role("viewer")
def account() -> ResponseReturnValue:
    who = principal()
    return _render(
        "auth/account.html",
        title="Your account",
        role=who.role,
        workspace=str(who.tenant_id),
        csrf_token=g.session_record.csrf_token,
    )


@auth_pages.post("/logout")
@requires_role("viewer")
def logout() -> ResponseReturnValue:
    account_service().sessions.end(g.session_record)
    response = redirect("/auth/login", code=303)
    clear_session_cookie(response)
    return response
