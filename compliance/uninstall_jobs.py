"""Clock job for uninstall clean-ups: a thin wrapper over compliance/uninstall.py."""

from __future__ import annotations

from compliance.uninstall import restart_uninstall_cleanups
from runtime import process_runtime


def restart_uninstall_cleanups_job() -> int:
    """Clock job (hourly): start the clean-up of uninstalled workspaces that lack one."""
    return len(restart_uninstall_cleanups(process_runtime()))
