"""The Connect surface: descriptor, lifecycle callbacks and the admin page placeholder
(the issue panel is handlers/issue_panel.py)."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, jsonify
from flask.typing import ResponseReturnValue

from auth.errors import ConnectAuthError
from compliance.uninstall import on_uninstalled
from handlers.connect_auth import (
    View,
    connect_jwt,
    forget_installation,
    runtime,
    unauthorized,
    verify_install,
)
from handlers.request_body import validated_json
from handlers.security_headers import iframe_route
from jira.calls import connect_scopes
from models.lifecycle import InstallRequest, install, set_status

connect = Blueprint("connect", __name__)
LifecycleView = Callable[[dict[str, Any]], ResponseReturnValue]
DESCRIPTOR = Path(__file__).resolve().parent.parent / "descriptor" / "atlassian-connect.json"


@cache
def _descriptor_template() -> dict[str, Any]:
    return json.loads(DESCRIPTOR.read_text())


def descriptor_for(base_url: str, app_key: str) -> dict[str, Any]:
    """The descriptor with this deployment's baseUrl and key, and the scopes the
    registered Jira calls need (never more)."""
    descriptor = copy.deepcopy(_descriptor_template())
    return {**descriptor, "baseUrl": base_url, "key": app_key, "scopes": connect_scopes()}


@connect.get("/atlassian-connect.json")
def descriptor() -> ResponseReturnValue:
    settings = runtime().settings
    return jsonify(descriptor_for(settings.base_url, settings.app_key))


def _lifecycle_body(event_type: str) -> dict[str, Any]:
    body = validated_json("lifecycle", "lifecycle payload", "eventType", event_type)
    if body["key"] != runtime().settings.app_key:
        abort(400, description="the payload is for another app key")
    try:
        urlsplit(body["baseUrl"])  # the schema's pattern lets through e.g. an unclosed "["
    except ValueError:
        abort(400, description="baseUrl is not a URL")
    if any(isinstance(value, str) and "\x00" in value for value in body.values()):
        abort(400, description="the payload holds a NUL character, which cannot be stored")
    return body


def signed_install(event_type: str) -> Callable[[LifecycleView], View]:
    """For installed/uninstalled: a valid body, then an RS256 token from its clientKey."""

    def decorate(view: LifecycleView) -> View:
        @functools.wraps(view)
        def wrapper() -> ResponseReturnValue:
            body = _lifecycle_body(event_type)
            try:
                verify_install(body["clientKey"])
            except ConnectAuthError as error:
                return unauthorized(str(error))
            response = view(body)
            forget_installation(body["clientKey"])
            return response

        return wrapper

    return decorate


@connect.post("/connect/lifecycle/installed")
@signed_install("installed")
def installed(body: dict[str, Any]) -> ResponseReturnValue:
    rt = runtime()
    install(
        rt.db,
        rt.keys,
        InstallRequest(
            client_key=body["clientKey"],
            shared_secret=body["sharedSecret"],
            base_url=body["baseUrl"].rstrip("/"),
            cloud_id=body.get("cloudId"),
        ),
    )
    return "", 204


@connect.post("/connect/lifecycle/uninstalled")
@signed_install("uninstalled")
def uninstalled(body: dict[str, Any]) -> ResponseReturnValue:
    on_uninstalled(runtime(), body["clientKey"])  # sync stops, clean-up and deletion start
    return "", 204


@connect.post("/connect/lifecycle/enabled")
@connect_jwt()
def enabled() -> ResponseReturnValue:
    return _set_enabled("enabled")


@connect.post("/connect/lifecycle/disabled")
@connect_jwt()
def disabled() -> ResponseReturnValue:
    return _set_enabled("disabled")


def _set_enabled(status: str) -> ResponseReturnValue:
    body = _lifecycle_body(status)
    if body["clientKey"] != g.connect.client_key:
        return unauthorized("the token's issuer is not the body's clientKey")
    set_status(runtime().db, body["clientKey"], status)
    forget_installation(body["clientKey"])
    return "", 204


@connect.get("/connect/admin")
@iframe_route
@connect_jwt(context_qsh=True)
def admin_page() -> ResponseReturnValue:
    """Placeholder until the pages issue."""
    return jsonify(status="ok", page="admin")
