"""``flask audit verify``: check every tenant's audit hash chain."""

from __future__ import annotations

import uuid

import click
from flask import current_app
from flask.cli import AppGroup

from audit.verify import verify
from runtime import Runtime

audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


@audit_cli.command("verify")
@click.option("--tenant", type=click.UUID, default=None, help="Check this tenant only.")
def verify_command(tenant: uuid.UUID | None) -> None:
    """Recompute every audit row's hash; exit 1 if any tenant's chain is broken."""
    runtime: Runtime = current_app.extensions["tandem"]
    broken = 0
    for report in verify(runtime.maintenance_engine(), tenant):
        click.echo(report.line())
        broken += not report.ok
    if broken:
        click.echo(f"{broken} broken chain{'s' if broken != 1 else ''}", err=True)
        raise SystemExit(1)
