"""Fixtures for the accounts tests: an app on an https base URL, a clock the tests move,
and helpers that invite, accept and sign in through the real code paths."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from auth.accounts import AccountService
from auth.invitations import accept, create_invitation
from config import Settings

BASE_URL = "https://tandem.test"
PASSWORD = "correct horse battery staple"


class FakeClock:
    """The accounts' clock; ``advance`` moves it (never sleeps)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def https_client(app: Flask, ip: str | None = None) -> FlaskClient:
    """A test client that talks https to the app's host (the session cookie is Secure)."""
    client = app.test_client()
    client.environ_base.update(
        {"wsgi.url_scheme": "https", "HTTP_HOST": "tandem.test"}
        | ({"REMOTE_ADDR": ip} if ip else {})
    )
    return client


@dataclass
class AccountsWorld:
    app: Flask
    client: FlaskClient
    clock: FakeClock

    @property
    def service(self) -> AccountService:
        return self.app.extensions["accounts"]

    def new_account(
        self, tenant_id: uuid.UUID, role: str = "member", password: str = PASSWORD
    ) -> tuple[str, uuid.UUID]:
        """Invite and accept an account of ``tenant_id``; (its address, its id)."""
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        token, _, _ = create_invitation(self.service, tenant_id, email, role, "test")
        return email, accept(self.service, token, password).account_id

    def login(
        self, email: str, password: str = PASSWORD, client: FlaskClient | None = None, **extra
    ) -> TestResponse:
        return (client or self.client).post(
            "/api/auth/login", json={"email": email, "password": password, **extra}
        )

    def signed_in(self, email: str, password: str = PASSWORD) -> tuple[FlaskClient, str]:
        """A fresh client signed in as ``email``; (client, its CSRF token)."""
        client = https_client(self.app, ip=f"10.9.{uuid.uuid4().int % 250}.1")
        response = self.login(email, password, client=client)
        assert response.status_code == 200, response.get_json()
        return client, response.get_json()["csrf_token"]


def accounts_app(settings: Settings, **overrides: object) -> Flask:
    """An app on ``BASE_URL`` with roomy rate limits unless overridden."""
    options = {
        "base_url": BASE_URL,
        "auth_ip_limit": "10000/minute",
        "auth_account_limit": "10000/minute",
    }
    return create_app(replace(settings, **{**options, **overrides}))


@pytest.fixture
def world(settings: Settings) -> Iterator[AccountsWorld]:
    app = accounts_app(settings)
    clock = FakeClock()
    app.extensions["accounts"].clock = clock
    yield AccountsWorld(app, https_client(app), clock)
    app.extensions["tandem"].close()
