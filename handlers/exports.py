"""Workspace export: started and polled by an installation (Connect JWT), downloaded
through a signed, time-limited link."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, send_file
from flask.typing import ResponseReturnValue

from compliance.export_files import EXPORT_LIFETIME_SECONDS, archive_path, is_expired
from compliance.export_links import LinkExpired, LinkInvalid, read_link_token
from compliance.export_requests import download_token, export_status, start_export
from handlers.connect_auth import connect_jwt, runtime

exports = Blueprint("exports", __name__)


def _refusal(status: int, error: str, reason: str) -> ResponseReturnValue:
    response = jsonify(error=error, message=reason)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _no_secret_key() -> ResponseReturnValue | None:
    if runtime().settings.secret_key:
        return None
    return _refusal(503, "Service Unavailable", "exports need TANDEM_SECRET_KEY: set it")


@exports.post("/connect/exports")
@connect_jwt()
def start() -> ResponseReturnValue:
    refused = _no_secret_key()
    if refused is not None:
        return refused
    rt = runtime()
    job_id = start_export(rt, g.connect.tenant_id)
    status_url = f"{rt.settings.base_url}/connect/exports/{job_id}"
    response = jsonify(job_id=job_id, state="queued", status_url=status_url)
    response.status_code = 202
    response.headers["Location"] = status_url
    return response


@exports.get("/connect/exports/<job_id>")
@connect_jwt()
def status(job_id: str) -> ResponseReturnValue:
    rt = runtime()
    found = export_status(rt, g.connect.tenant_id, job_id)
    if found is None:
        return _refusal(404, "Not Found", "no such export for this workspace")
    body: dict[str, object] = {"job_id": found.job_id, "state": found.state}
    token = download_token(rt, found, g.connect.tenant_id) if rt.settings.secret_key else None
    if token is not None:
        body.update(
            rows=found.rows,
            download_url=f"{rt.settings.base_url}/exports/{token}",
            expires_in=EXPORT_LIFETIME_SECONDS,
        )
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@exports.get("/exports/<token>")
def download(token: str) -> ResponseReturnValue:
    refused = _no_secret_key()
    if refused is not None:
        return refused
    rt = runtime()
    try:
        link = read_link_token(rt.settings.secret_key, token)
        path = archive_path(rt.settings.export_dir, link.tenant_id, link.name)
    except LinkExpired as error:
        return _refusal(410, "Gone", str(error))
    except LinkInvalid as error:
        return _refusal(403, "Forbidden", str(error))
    except FileNotFoundError:
        return _refusal(404, "Not Found", "no such export")
    if not path.is_file():
        return _refusal(404, "Not Found", "the export is gone; request a new one")
    if is_expired(path):
        return _refusal(410, "Gone", "the export has expired; request a new one")
    response = send_file(
        path,
        mimetype="application/gzip",
        as_attachment=True,
        download_name=f"tandem-export-{link.tenant_id}.json.gz",
        conditional=False,
        etag=False,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
