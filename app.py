"""The Flask application factory."""

from __future__ import annotations

import logging
import sys

import sentry_sdk
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from audit.cli import audit_cli
from auth.accounts import AccountService
from auth.cli import accounts_cli
from config import ConfigError, Settings, load_settings
from handlers.admin_blueprints import register_admin_pages
from handlers.auth_api import auth_api
from handlers.auth_pages import auth_pages
from handlers.cleanup import cleanup
from handlers.connect import connect
from handlers.connect_members import connect_members
from handlers.exports import exports
from handlers.forge import forge
from handlers.health import health
from handlers.issue_panel import issue_panel
from handlers.members import members
from handlers.oauth import oauth
from handlers.oauth_webhooks import oauth_webhooks
from handlers.rate_limits import install_rate_limits
from handlers.security_headers import register_security_headers
from handlers.webhooks import webhooks
from keys.cli import keys_cli
from observability.error_tracking import init_error_tracking
from runtime import build_runtime


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. Without explicit settings, a configuration error stops the process
    with one line saying what to set."""
    if settings is None:
        try:
            settings = load_settings()
            return _build(settings)
        except ConfigError as exc:
            print(f"tandem: {exc}", file=sys.stderr)
            raise SystemExit(3) from None  # gunicorn treats 3 as "do not retry"
    return _build(settings)


def _build(settings: Settings) -> Flask:
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    init_error_tracking(settings, "web")  # only when SENTRY_DSN is set
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or None,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=max(1024 * 1024, settings.webhook_max_bytes),
    )
    app.extensions["tandem"] = build_runtime(settings)
    app.register_blueprint(health)
    app.register_blueprint(connect)
    app.register_blueprint(webhooks)
    app.register_blueprint(oauth)
    app.register_blueprint(oauth_webhooks)
    app.register_blueprint(exports)
    app.register_blueprint(cleanup)
    app.register_blueprint(forge)
    app.extensions["accounts"] = AccountService(app.extensions["tandem"])
    for blueprint in (auth_api, auth_pages, members, connect_members):
        app.register_blueprint(blueprint)
    install_rate_limits(app, settings)  # after the auth blueprints: it wraps their views
    app.register_blueprint(issue_panel)
    register_security_headers(app)
    register_admin_pages(app)
    app.cli.add_command(keys_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(accounts_cli)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _http_error(error: HTTPException) -> ResponseReturnValue:
    return jsonify(error=error.name, message=error.description), error.code or 500


def _database_unavailable(error: Exception) -> ResponseReturnValue:
    logging.getLogger(__name__).warning("database unavailable: %s", type(error).__name__)
    response = jsonify(error="Service Unavailable", message="the database is unavailable; retry")
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


def _unexpected_error(error: Exception) -> ResponseReturnValue:
    # This handler answers the request, so Flask never signals the error: report it here.
    sentry_sdk.capture_exception(error)
    logging.getLogger(__name__).exception("unhandled error")
    return jsonify(error="Internal Server Error", message="something went wrong on our side"), 500
