"""The emails accounts send: lock notice, password reset link, invitation link.

They go through ``mailer.send_mail`` (queued; a worker delivers them). Links are built
on ``TANDEM_BASE_URL``; the token is in the link only, never logged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import quote

from auth.accounts import AccountService
from mailer import Message, send_mail

log = logging.getLogger(__name__)


def _send(service: AccountService, email: str, subject: str, text: str, kind: str) -> bool:
    """Queue one message; an address the mailer refuses is logged (never the address)."""
    try:
        message = Message(to=(email,), subject=subject, text=text, kind=kind)
    except ValueError:
        log.warning("mail %s not sent: the mailer refuses the account's address", kind)
        return False
    return send_mail(service.runtime, message)


def _link(service: AccountService, path: str, token: str) -> str:
    return f"{service.runtime.settings.base_url}{path}?token={quote(token, safe='')}"


def lock_notice(service: AccountService, email: str, until: datetime) -> bool:
    """Tell the owner of the address that the account locked after failed sign-ins."""
    text = (
        "Your Tandem account was locked after 10 failed sign-in attempts in a row.\n\n"
        f"It unlocks by itself at {until:%Y-%m-%d %H:%M} UTC. To unlock it now, reset your "
        f"password: {service.runtime.settings.base_url}/auth/reset\n\n"
        "If the attempts were not yours, someone may be guessing your password: choose a "
        "new, long password and consider enabling a second factor."
    )
    return _send(service, email, "Your Tandem account is locked", text, "account_locked")


def reset_link(service: AccountService, email: str, token: str, hours: int) -> bool:
    text = (
        "Someone (hopefully you) asked to reset the password of your Tandem account.\n\n"
        f"Choose a new password here (the link works once, for {hours} hour(s)):\n"
        f"{_link(service, '/auth/reset/complete', token)}\n\n"
        "If you did not ask for this, ignore this email: your password stays as it is."
    )
    return _send(service, email, "Reset your Tandem password", text, "password_reset")


def invitation_link(service: AccountService, email: str, token: str, role: str, days: int) -> bool:
    text = (
        f"You are invited to a Tandem workspace as {role}.\n\n"
        f"Accept and choose a password here (the link works once, for {days} days):\n"
        f"{_link(service, '/auth/accept', token)}\n"
    )
    return _send(service, email, "You are invited to Tandem", text, "invitation")
