"""The ceiling of bench/webhook_ingest.py: Flask under the same gunicorn, doing no work.

``gunicorn -c gunicorn.conf.py 'bench.bare_app:create_app()'`` serves the webhook route
of Tandem, which reads the body (as Tandem must) and answers 204, and ``/healthz``.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue


def create_app() -> Flask:
    """A Flask app with only the webhook route and the liveness probe."""
    app = Flask(__name__)

    @app.post("/connect/webhooks/issue-created")
    def issue_created() -> ResponseReturnValue:
        request.get_data()
        return "", 204

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return jsonify(status="ok")

    return app
