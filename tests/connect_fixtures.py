"""Fixtures for Connect tests: a real key server over HTTP and an app that trusts it."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import create_app
from config import Settings
from tests.support.connect_tokens import KeyServer, install_token, new_rsa_key, public_pem
from tests.support.http_server import serving

BASE_URL = "https://tandem.test"
APP_KEY = "io.tandem.jira-sync"
INSTALLED = "/connect/lifecycle/installed"
UNINSTALLED = "/connect/lifecycle/uninstalled"


@dataclass
class ConnectWorld:
    app: Flask
    client: FlaskClient
    key_server: KeyServer
    signing_key: Any
    kid: str

    def install(
        self, client_key: str | None = None, secret: str | None = None, **body: Any
    ) -> tuple[TestResponse, str, str]:
        """Send a valid signed install; returns (response, client_key, secret)."""
        client_key = client_key or f"client-{uuid.uuid4()}"
        secret = secret or secrets.token_urlsafe(32)
        payload = lifecycle_body("installed", client_key, sharedSecret=secret, **body)
        token = install_token(self.signing_key, self.kid, client_key, BASE_URL, INSTALLED)
        response = self.client.post(
            INSTALLED, json=payload, headers={"Authorization": f"JWT {token}"}
        )
        return response, client_key, secret

    def uninstall(self, client_key: str) -> TestResponse:
        """Send a valid signed uninstall."""
        token = install_token(self.signing_key, self.kid, client_key, BASE_URL, UNINSTALLED)
        return self.client.post(
            UNINSTALLED,
            json=lifecycle_body("uninstalled", client_key),
            headers={"Authorization": f"JWT {token}"},
        )


def lifecycle_body(event_type: str, client_key: str, **extra: Any) -> dict[str, Any]:
    body = {
        "key": APP_KEY,
        "clientKey": client_key,
        "baseUrl": f"https://{client_key[:20]}.atlassian.test",
        "productType": "jira",
        "eventType": event_type,
        "description": "test site",
    }
    body.update(extra)
    return body


@pytest.fixture(scope="session")
def key_server() -> Iterator[tuple[KeyServer, str, Any, str]]:
    """One key server for the session, with one install signing key."""
    server = KeyServer()
    signing_key = new_rsa_key()
    kid = f"kid-{uuid.uuid4().hex[:12]}"
    server.keys[kid] = public_pem(signing_key)
    with serving(server.app()) as keys_url:
        yield server, keys_url, signing_key, kid


@pytest.fixture
def connect_world(settings: Settings, key_server: tuple) -> Iterator[ConnectWorld]:
    server, keys_url, signing_key, kid = key_server
    app = create_app(
        replace(
            settings,
            base_url=BASE_URL,
            app_key=APP_KEY,
            connect_install_keys_url=keys_url,
            webhook_max_bytes=64 * 1024,
        )
    )
    yield ConnectWorld(app, app.test_client(), server, signing_key, kid)
    app.extensions["tandem"].close()
