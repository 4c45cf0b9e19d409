"""The workspace settings page's data: retention windows, sync logs on or off, log
sealing (compliance/retention.py) and the contact address for workspace notices
(compliance/notice_recipients.py), read together and saved in one transaction, so a
refused field changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from compliance.notice_recipients import set_contact_email
from compliance.retention import RetentionError, get_retention, set_retention
from mailer.addresses import InvalidAddress
from models.tenants import RAW_RESPONSE_DAYS, SYNC_LOG_DAYS, Tenant
from runtime import Runtime

FIELDS = ("raw_response_days", "sync_log_days", "sync_logs_enabled", "seal_sync_logs")


class SettingRefused(ValueError):
    """One setting cannot be stored; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class WorkspaceSettings:
    """What the settings page shows."""

    raw_response_days: int
    sync_log_days: int
    sync_logs_enabled: bool
    seal_sync_logs: bool
    contact_email: str
    raw_response_limits: tuple[int, int] = RAW_RESPONSE_DAYS
    sync_log_limits: tuple[int, int] = SYNC_LOG_DAYS


def read_settings(runtime: Runtime, tenant_id: uuid.UUID) -> WorkspaceSettings:
    """The workspace's settings."""
    with runtime.db.tenant_session(tenant_id) as session:
        retention = get_retention(session)
        tenant = session.get(Tenant, tenant_id)
        contact = tenant.contact_email if tenant is not None else None
    return WorkspaceSettings(
        retention.raw_response_days,
        retention.sync_log_days,
        retention.sync_logs_enabled,
        retention.seal_sync_logs,
        contact or "",
    )


def save_settings(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    actor: str,
    raw_response_days: int,
    sync_log_days: int,
    sync_logs_enabled: bool,
    seal_sync_logs: bool,
    contact_email: str,
) -> WorkspaceSettings:
    """Store every setting (each change audited by its own function) or none of them;
    SettingRefused names the first field that cannot be stored."""
    try:
        with runtime.db.tenant_session(tenant_id) as session:
            set_retention(
                session,
                raw_response_days=raw_response_days,
                sync_log_days=sync_log_days,
                sync_logs_enabled=sync_logs_enabled,
                seal_sync_logs=seal_sync_logs,
                actor=actor,
            )
            set_contact_email(session, contact_email, actor)
    except RetentionError as error:
        field = next((name for name in FIELDS if str(error).startswith(name)), "form")
        raise SettingRefused(field, str(error)) from None
    except InvalidAddress as error:
        raise SettingRefused("contact_email", str(error)) from None
    runtime.log_policies.forget(tenant_id)  # this process sees the new switches at once
    return read_settings(runtime, tenant_id)
