"""Where a blueprint finds its sandbox: `sandbox_of(current_app)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from sandbox.core import Sandbox

EXTENSION = "sandbox"


def sandbox_of(app: Flask) -> Sandbox:
    """The Sandbox that `create_sandbox_app` attached to this Flask app."""
    return app.extensions[EXTENSION]
