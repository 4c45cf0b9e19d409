"""SQLAlchemy models, one module per aggregate; ``db`` holds engines and tenant sessions."""

from models.audit import AuditEvent
from models.base import Base
from models.connections import Connection
from models.data_keys import DataKeyRecord
from models.installations import Installation
from models.tenants import DirectoryEntry, Tenant

__all__ = [
    "AuditEvent",
    "Base",
    "Connection",
    "DataKeyRecord",
    "DirectoryEntry",
    "Installation",
    "Tenant",
]
