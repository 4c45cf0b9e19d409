"""The OAuth 2.0 (3LO) authorisation server, like auth.atlassian.com: registered clients,
consent that yields single-use codes, grants, opaque access tokens and rotating refresh
tokens with reuse detection, and revocation (by an admin or by the app).

Errors follow Auth0, which backs auth.atlassian.com: `{"error", "error_description"}` with
401 `access_denied` for bad client credentials and 403 `invalid_grant` for codes and refresh
tokens that are unknown, used, expired or revoked.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.scopes import OFFLINE
from sandbox.state import SandboxState
from sandbox.times import iso_now

INVALID_REFRESH = "Unknown or invalid refresh token."


class OAuthError(Exception):
    """A token-endpoint error: HTTP status, OAuth `error` code and description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class OAuthClient:
    """An app from the developer console; the secret never leaves the process over HTTP."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str
    access_token_lifetime: float | None = None
    created_at: str = field(default_factory=iso_now)

    def public(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "access_token_lifetime": self.access_token_lifetime,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Consent:
    """What a person approved on the consent screen: the code's content."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    sites: tuple[str, ...]
    account_id: str


@dataclass
class AuthCode:
    """A single-use authorization code, bound to its client and redirect URI."""

    consent: Consent
    expires_at: float
    grant_id: str | None = None


@dataclass
class Grant:
    """One authorisation of an app by a person, for some sites and scopes."""

    id: str
    client_id: str
    account_id: str
    sites: tuple[str, ...]
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None
    revoked_reason: str | None = None
    refreshes: int = 0

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, Any]:
        return {
            "grant_id": self.id,
            "client_id": self.client_id,
            "account_id": self.account_id,
            "sites": list(self.sites),
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "active": self.active,
            "revoked_at": self.revoked_at,
            "revoked_reason": self.revoked_reason,
            "refreshes": self.refreshes,
        }


@dataclass
class AccessToken:
    """An opaque bearer token: its grant, scopes and expiry (epoch seconds)."""

    grant_id: str
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    """A rotating refresh token; `used` once it has been exchanged."""

    grant_id: str
    issued_at: float
    used: bool = False


@dataclass(frozen=True)
class Access:
    """A valid access token's meaning: who, for which app, sites and scopes."""

    grant_id: str
    client_id: str
    account_id: str
    sites: tuple[str, ...]
    scopes: tuple[str, ...]


class OAuthServer:
    """Clients, codes, grants and tokens, under the sandbox state's lock."""

    def __init__(self, state: SandboxState, config: SandboxConfig) -> None:
        self.lock = state.lock
        self.config = config
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        for spec in config.oauth_clients:
            self.register(spec.client_id, spec.client_secret, spec.redirect_uris, spec.name)

    def register(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        name: str = "",
        access_token_lifetime: float | None = None,
    ) -> OAuthClient:
        """Add (or replace) a client."""
        client = OAuthClient(
            client_id, client_secret, redirect_uris, name or client_id, access_token_lifetime
        )
        with self.lock:
            self.clients[client_id] = client
        return client

    def client(self, client_id: str) -> OAuthClient | None:
        with self.lock:
            return self.clients.get(client_id)

    def authenticate(self, client_id: str, client_secret: str) -> OAuthClient:
        """The client, if the secret matches; 401 `access_denied` otherwise."""
        client = self.client(client_id)
        if client is None or not secrets.compare_digest(client.client_secret, client_secret):
            raise OAuthError(401, "access_denied", "Unauthorized")
        return client

    def issue_code(self, consent: Consent) -> str:
        """A code for an approved consent, valid for `code_lifetime` seconds."""
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = AuthCode(consent, time.time() + self.config.code_lifetime)
        return code

    def exchange_code(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> dict[str, Any]:
        """`grant_type=authorization_code`: a new grant and its first tokens.

        A code works once: using it again revokes the grant it created (RFC 6749 10.5)."""
        self.authenticate(client_id, client_secret)
        with self.lock:
            found = self.codes.get(code)
            if found is None or found.consent.client_id != client_id:
                raise OAuthError(403, "invalid_grant", "Invalid authorization code")
            if found.grant_id is not None:
                self._revoke(found.grant_id, "authorization code reused")
                raise OAuthError(403, "invalid_grant", "Invalid authorization code")
            if time.time() > found.expires_at:
                raise OAuthError(403, "invalid_grant", "Invalid authorization code")
            if redirect_uri != found.consent.redirect_uri:
                raise OAuthError(403, "invalid_grant", "Invalid redirect_uri")
            consent = found.consent
            grant = Grant(
                id=str(uuid.uuid4()),
                client_id=client_id,
                account_id=consent.account_id,
                sites=consent.sites,
                scopes=consent.scopes,
                created_at=iso_now(),
            )
            self.grants[grant.id] = grant
            found.grant_id = grant.id
            return self._tokens(grant)

    def refresh(self, client_id: str, client_secret: str, token: str) -> dict[str, Any]:
        """`grant_type=refresh_token`: new access and refresh tokens; the old refresh token
        stops working, and presenting it again revokes the whole grant."""
        self.authenticate(client_id, client_secret)
        with self.lock:
            found = self.refresh_tokens.get(token)
            grant = self.grants.get(found.grant_id) if found else None
            if found is None or grant is None or grant.client_id != client_id:
                raise OAuthError(403, "invalid_grant", INVALID_REFRESH)
            if found.used:
                self._revoke(grant.id, "refresh token reuse detected")
            idle = time.time() - found.issued_at > self.config.refresh_token_idle_lifetime
            if not grant.active or idle:
                raise OAuthError(403, "invalid_grant", INVALID_REFRESH)
            found.used = True
            grant.refreshes += 1
            return self._tokens(grant)

    def _tokens(self, grant: Grant) -> dict[str, Any]:
        client = self.clients[grant.client_id]
        lifetime = client.access_token_lifetime or self.config.access_token_lifetime
        access = secrets.token_urlsafe(32)
        self.access_tokens[access] = AccessToken(grant.id, time.time() + lifetime)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(lifetime) if float(lifetime).is_integer() else lifetime,
            "token_type": "Bearer",
            "scope": " ".join(grant.scopes),
        }
        if OFFLINE in grant.scopes:
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = RefreshToken(grant.id, time.time())
            body["refresh_token"] = refresh
        return body

    def resolve(self, token: str) -> Access | str:
        """What a bearer token allows, or why it does not (expired, revoked, unknown)."""
        with self.lock:
            found = self.access_tokens.get(token)
            if found is None:
                return "The access token is not known."
            grant = self.grants[found.grant_id]
            if found.revoked or not grant.active:
                return "The access token was revoked."
            if time.time() >= found.expires_at:
                return "The access token expired."
            return Access(grant.id, grant.client_id, grant.account_id, grant.sites, grant.scopes)

    def revoke_token(self, client_id: str, client_secret: str, token: str) -> None:
        """RFC 7009: a refresh token ends its grant; an access token ends itself."""
        self.authenticate(client_id, client_secret)
        with self.lock:
            refresh = self.refresh_tokens.get(token)
            if refresh is not None and self.grants[refresh.grant_id].client_id == client_id:
                self._revoke(refresh.grant_id, "revoked by the app")
            access = self.access_tokens.get(token)
            if access is not None and self.grants[access.grant_id].client_id == client_id:
                access.revoked = True

    def revoke_grant(self, grant_id: str, reason: str = "revoked by an admin") -> Grant | None:
        """What an admin (or the person) does in Atlassian's UI: all tokens stop working."""
        with self.lock:
            if grant_id not in self.grants:
                return None
            self._revoke(grant_id, reason)
            return self.grants[grant_id]

    def _revoke(self, grant_id: str, reason: str) -> None:
        grant = self.grants[grant_id]
        if grant.active:
            grant.revoked_at = iso_now()
            grant.revoked_reason = reason

    def active_grant(self, client_id: str, account_id: str, site: str) -> Grant | None:
        """A live grant of this app by this person that covers the site (webhooks use it)."""
        with self.lock:
            for grant in self.grants.values():
                if (grant.client_id, grant.account_id) == (client_id, account_id) and (
                    grant.active and site in grant.sites
                ):
                    return grant
            return None

    def listing(self, client_id: str | None = None) -> list[dict[str, Any]]:
        """Grants without tokens, oldest first."""
        with self.lock:
            return [
                g.public()
                for g in self.grants.values()
                if client_id is None or g.client_id == client_id
            ]
