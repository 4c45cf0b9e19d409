"""``flask accounts invite-owner``: how an operator gives a workspace its owner."""

from __future__ import annotations

import uuid

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from auth.email_keys import InvalidEmail
from auth.invitations import invite

accounts_cli = AppGroup("accounts", help="Dashboard accounts.")


@accounts_cli.command("invite-owner")
@click.option("--workspace", "workspace", required=True, help="the workspace (tenant) id")
@click.option("--email", required=True, help="the address to invite as owner")
def invite_owner_command(workspace: str, email: str) -> None:
    """Email an owner invitation for a workspace (valid 7 days, audited as 'operator')."""
    try:
        tenant_id = uuid.UUID(workspace)
    except ValueError:
        raise click.ClickException("--workspace must be a workspace id (a UUID)") from None
    try:
        invite(current_app.extensions["accounts"], tenant_id, email, "owner", "operator")
    except InvalidEmail as error:
        raise click.ClickException(str(error)) from None
    except IntegrityError:
        raise click.ClickException(f"there is no workspace {tenant_id}") from None
    click.echo(f"owner invitation sent for workspace {tenant_id}")
