"""Clock helpers in Jira's formats."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def jira_time(moment: datetime) -> str:
    """Jira's REST date-time format, e.g. `2024-05-01T12:34:56.789+0000`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def epoch_ms() -> int:
    """Milliseconds since the epoch, as in a webhook's `timestamp`."""
    return int(time.time() * 1000)


def iso_now() -> str:
    """A compact ISO-8601 UTC time for control-plane records."""
    return utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
