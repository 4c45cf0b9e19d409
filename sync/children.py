"""Helpers shared by comment and attachment syncing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jira.errors import PermanentError


def maybe_there(current: dict[str, dict[str, Any]], side: str, item_id: str | None) -> bool:
    """Whether a copy may still exist: known from the side's list, or assumed when the
    list was not read (the write then tolerates a 404)."""
    if item_id is None:
        return False
    return item_id in current[side] if side in current else True


def tolerating_404(write: Callable[[], Any]) -> None:
    """Run a write whose target may already be gone."""
    try:
        write()
    except PermanentError as error:
        if error.status != 404:
            raise
