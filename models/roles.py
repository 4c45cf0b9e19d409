"""Names of the database roles the set-up creates and the migrations grant to."""

from __future__ import annotations

import os


def app_role() -> str:
    """The role that serves requests and jobs: no superuser, no BYPASSRLS, owns nothing."""
    return os.environ.get("TANDEM_APP_ROLE", "tandem_app")


def maintenance_role() -> str:
    """The role that may purge expired audit and raw rows and inventory data keys."""
    return os.environ.get("TANDEM_MAINTENANCE_ROLE", "tandem_maintenance")
