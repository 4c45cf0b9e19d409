"""SQLAlchemy models, one module per aggregate; ``db`` holds engines and tenant sessions."""

from models.accounts import Account, AccountToken, Membership
from models.atlassian_accounts import AtlassianAccount
from models.audit import AuditEvent
from models.base import Base
from models.connections import Connection
from models.data_keys import DataKeyRecord
from models.deletion_requests import DeletionRequest
from models.deletion_tombstones import DeletionTombstone
from models.forge_installations import ForgeInstallation
from models.installations import Installation
from models.integrations import Integration
from models.links import AttachmentLink, CommentLink, IssueLink
from models.raw_responses import RawResponse
from models.sync_attempts import SyncAttempt
from models.tenants import DirectoryEntry, Tenant
from models.webhook_events import WebhookEvent

__all__ = [
    "Account",
    "AccountToken",
    "AtlassianAccount",
    "AttachmentLink",
    "AuditEvent",
    "Base",
    "CommentLink",
    "Connection",
    "DataKeyRecord",
    "DeletionRequest",
    "DeletionTombstone",
    "DirectoryEntry",
    "ForgeInstallation",
    "Installation",
    "Integration",
    "IssueLink",
    "Membership",
    "RawResponse",
    "SyncAttempt",
    "Tenant",
    "WebhookEvent",
]
