"""Forge mode over HTTP: the JWKS (``/forge/.well-known/jwks.json``, standing in for
``https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json``) and the control plane
under ``/sandbox/forge`` (install, uninstall, scheduled trigger, UI calls, tokens, keys)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox.context import sandbox_of
from sandbox.errors import JiraError
from sandbox.forge import ForgePlatform
from sandbox.forge_tokens import new_forge_key
from sandbox.installer import InstallError

forge_jwks = Blueprint("sandbox_forge_jwks", __name__)
control_forge = Blueprint("sandbox_control_forge", __name__, url_prefix="/sandbox/forge")


def _forge() -> ForgePlatform:
    return sandbox_of(current_app).forge


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise JiraError(400, "The request body must be a JSON object.")
    return data


def _answer(call: Any, *args: Any) -> Response:
    try:
        return jsonify(call(*args))
    except InstallError as exc:
        raise JiraError(exc.status, str(exc)) from None


@forge_jwks.get("/forge/.well-known/jwks.json")
def jwks() -> Response:
    return jsonify(_forge().jwks())


@control_forge.post("/install")
def install() -> Response:
    """``{site, manifest (the manifest as JSON), variables}``: deploy and install."""
    body = _body()
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise JiraError(400, "variables must be an object")
    return _answer(
        _forge().install,
        str(body.get("site", "")),
        body.get("manifest"),
        {str(k): str(v) for k, v in variables.items()},
    )


@control_forge.post("/uninstall")
def uninstall() -> Response:
    body = _body()
    return _answer(_forge().uninstall, str(body.get("site", "")), str(body.get("app_id", "")))


@control_forge.post("/scheduled")
def scheduled() -> Response:
    """``{site, app_id, key?}``: fire the scheduled trigger now."""
    body = _body()
    return _answer(
        _forge().run_scheduled,
        str(body.get("site", "")),
        str(body.get("app_id", "")),
        body.get("key"),
    )


@control_forge.post("/invoke")
def invoke() -> Response:
    """``{site, app_id, module, path, method?, principal?, issue?}``: a UI module's remote
    call (``issue``: the key of the issue the module is shown on)."""
    body = _body()
    return _answer(
        _forge().invoke,
        str(body.get("site", "")),
        str(body.get("app_id", "")),
        str(body.get("module", "")),
        str(body.get("path", "")),
        str(body.get("method", "GET")),
        body.get("principal"),
        body.get("issue"),
    )


@control_forge.post("/tokens/revoke")
def revoke_tokens() -> Response:
    """``{site, app_id}``: every app system token of the installation stops working."""
    body = _body()
    revoked = _forge().revoke_tokens(str(body.get("site", "")), str(body.get("app_id", "")))
    return jsonify({"revoked": revoked})


@control_forge.get("/installations")
def installations() -> Response:
    return jsonify(_forge().listing())


@control_forge.post("/keys/rotate")
def rotate_keys() -> Response:
    return jsonify({"current": _forge().rotate(new_forge_key())})
