"""Screenshots for the docs: written to docs/screenshots/ only when TANDEM_SCREENSHOTS=1
(`make screenshots`), so ordinary test runs leave the tree alone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def wanted() -> bool:
    return os.environ.get("TANDEM_SCREENSHOTS") == "1"


def save_screenshot(target: Any, name: str) -> Path | None:
    """Save ``target`` (a Playwright page or locator) as docs/screenshots/<name>.png."""
    if not wanted():
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path
