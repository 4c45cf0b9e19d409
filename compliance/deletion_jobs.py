"""RQ job for the account-deletion sweep."""

from __future__ import annotations

from compliance.deletion import delete_due_workspaces
from runtime import process_runtime


def delete_due_workspaces_job() -> int:
    """Clock job: a cross-tenant maintenance sweep, so it carries no tenant. It finds the
    due deletion requests itself and deletes each workspace in a transaction bound to
    that one tenant (compliance/deletion.py)."""
    return delete_due_workspaces(process_runtime())
