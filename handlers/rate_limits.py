"""Rate limits on every auth endpoint (flask-limiter on Redis, so they hold across all
gunicorn workers and hosts).

- per client IP, shared by all auth endpoints (``AUTH_RATE_LIMIT_IP``, scope ``auth-ip``);
- per account name on sign-in and reset requests (``AUTH_RATE_LIMIT_ACCOUNT``, scope
  ``auth-account``), keyed by the HMAC of what was typed, never the address itself.

A breach answers ``429`` with ``Retry-After`` (seconds) and a plain message. The client
IP is the socket's peer, or the one ``TRUSTED_PROXIES`` proxies in front of us reported
(werkzeug's ProxyFix, off by default: a client-sent ``X-Forwarded-For`` is ignored).
If Redis cannot be reached the request is refused with 503 (fail closed).
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, jsonify, request
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from redis.exceptions import RedisError
from werkzeug.middleware.proxy_fix import ProxyFix

from auth.login import account_name_key
from config import Settings
from handlers.session_cookie import account_service, refuse

KEY_PREFIX = "tandem:limits"
# Endpoint -> whether the per-account limit applies too (only the GET of a form is free).
AUTH_ENDPOINTS = {
    "auth_api.login": True,
    "auth_api.request_reset_link": True,
    "auth_api.complete_reset_link": False,
    "auth_api.accept_invitation_link": False,
    "auth_pages.login": True,
    "auth_pages.request_reset": True,
    "auth_pages.complete_reset": False,
    "auth_pages.accept_invitation": False,
}


def client_ip() -> str:
    return request.remote_addr or "unknown"


def _account_name() -> str:
    body = request.get_json(silent=True) if request.is_json else None
    typed = body.get("email") if isinstance(body, dict) else request.form.get("email")
    return account_name_key(account_service(), typed)


def _too_many(limit: RequestLimit) -> Response:
    wait = max(1, math.ceil(limit.window[0] - time.time()))  # reset_at adds a second
    response = jsonify(
        error="Too Many Requests", message=f"too many attempts: try again in {wait} seconds"
    )
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    response.headers["Cache-Control"] = "no-store"
    return response


def install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Wrap the auth endpoints (registered already) in their limits."""
    if settings.trusted_proxies:
        count = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    limiter = Limiter(
        client_ip,
        app=app,
        storage_uri=settings.redis_url,
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 2},
        key_prefix=KEY_PREFIX,
        strategy="fixed-window",
        headers_enabled=False,
        on_breach=_too_many,
    )
    per_ip = limiter.shared_limit(
        settings.auth_ip_limit, scope="auth-ip", key_func=client_ip, methods=["POST"]
    )
    per_account = limiter.shared_limit(
        settings.auth_account_limit, scope="auth-account", key_func=_account_name, methods=["POST"]
    )
    for endpoint, by_account in AUTH_ENDPOINTS.items():
        view = per_ip(app.view_functions[endpoint])
        app.view_functions[endpoint] = per_account(view) if by_account else view
    app.register_error_handler(RateLimitExceeded, _rendered)
    app.register_error_handler(RedisError, _redis_down)
    app.extensions["tandem_limiter"] = limiter
    return limiter


def _rendered(error: RateLimitExceeded) -> Response:
    if error.response is not None:
        return error.response
    return _too_many_plain()


def _too_many_plain() -> Response:
    response = refuse(429, "too many attempts: try again later")
    response.headers["Retry-After"] = "60"
    return response


def _redis_down(_error: RedisError) -> Response:
    response = refuse(503, "Redis is unavailable for a moment; retry")
    response.headers["Retry-After"] = "5"
    return response
