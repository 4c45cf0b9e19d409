"""Every admin page area, registered on the app in one call (each area module adds its
routes to both surfaces' blueprints when imported)."""

from __future__ import annotations

from flask import Flask, redirect
from flask.typing import ResponseReturnValue

# Each module adds its routes to both blueprints when imported.
from handlers import (  # noqa: F401
    admin_activity,
    admin_cleanup,
    admin_connections,
    admin_deletion,
    admin_export,
    admin_integrations,
    admin_members,
    admin_settings,
)
from handlers.admin_pages import admin_dashboard, admin_jira


@admin_dashboard.get("")
def index() -> ResponseReturnValue:
    """The dashboard's landing page is the integrations list (which checks the role)."""
    return redirect("/admin/integrations", code=303)


def register_admin_pages(app: Flask) -> None:
    """Serve the admin pages in the dashboard (/admin) and inside Jira (/connect/admin)."""
    app.register_blueprint(admin_dashboard)
    app.register_blueprint(admin_jira)
