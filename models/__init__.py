"""SQLAlchemy models, one module per aggregate; ``db`` holds engines and tenant sessions."""

from models.audit import AuditEvent
from models.base import Base
from models.connections import Connection
from models.data_keys import DataKeyRecord
from models.deletion_requests import DeletionRequest
from models.installations import Installation
from models.tenants import DirectoryEntry, Tenant
from models.webhook_events import WebhookEvent

__all__ = [
    "AuditEvent",
    "Base",
    "Connection",
    "DataKeyRecord",
    "DeletionRequest",
    "DirectoryEntry",
    "Installation",
    "Tenant",
    "WebhookEvent",
]
