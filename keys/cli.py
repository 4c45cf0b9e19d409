"""``flask keys status`` and ``flask keys rotate``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from keys.rotation import dek_counts_by_kek, rotate
from runtime import Runtime

keys_cli = AppGroup("keys", help="Data keys and key-encryption keys.")


def _runtime() -> Runtime:
    return current_app.extensions["tandem"]


@keys_cli.command("status")
def status_command() -> None:
    """Show how many data keys each KEK wraps, and which KEK is current."""
    runtime = _runtime()
    current = runtime.keys.kek.current_id()
    counts = dek_counts_by_kek(runtime.maintenance_engine())
    click.echo(f"current KEK: {current}")
    if not counts:
        click.echo("no data keys yet")
    for kek_id, count in counts.items():
        marker = " (current)" if kek_id == current else ""
        click.echo(f"{kek_id}: {count} data key{'s' if count != 1 else ''}{marker}")


@keys_cli.command("rotate")
def rotate_command() -> None:
    """Re-wrap every data key under the current KEK (sealed data is not touched)."""
    runtime = _runtime()

    def show(done: int, total: int) -> None:
        click.echo(f"re-wrapped {done}/{total}", err=True)

    count = rotate(runtime.db, runtime.maintenance_engine(), runtime.keys, progress=show)
    plural = "s" if count != 1 else ""
    click.echo(f"re-wrapped {count} data key{plural} under {runtime.keys.kek.current_id()}")
