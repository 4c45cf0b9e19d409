"""The workspace deletion notices: scheduled, cancelled, done.

Scheduled and cancelled are sent only once the change is committed. models/
deletion_requests.py notes each change in the session (plain data, no RQ there); on
``before_commit`` the notes become messages (the recipients and the workspace name are
read inside the same transaction), and on ``after_commit`` they are queued with
``send_mail``. A rollback discards them, so a change that did not happen is never
announced. ``watch_deletion_notices`` attaches these hooks to the runtime's tenant
sessions (build_runtime does it).

The "done" notice is prepared by the sweeper inside the erase transaction, before the
rows go (``deleted_notice``), and queued after that transaction commits; from then on the
address lives only in the queued job. Every notice names the workspace and nothing else
of it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from compliance.notice_recipients import workspace_recipients
from mailer import Message, send_mail
from models.deletion_requests import GRACE_PERIOD, PENDING_NOTICES, DeletionChange

if TYPE_CHECKING:
    from runtime import Runtime

log = logging.getLogger(__name__)

OUTGOING = "tandem.deletion_notices.outgoing"
WORKSPACE_NAME = "SELECT name FROM tenants WHERE id = (SELECT app_current_tenant())"
SIGNATURE = "-- \nTandem, the Jira sync companion\n"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def scheduled_notice(
    to: tuple[str, ...], workspace: str, delete_after: datetime, reason: str
) -> Message:
    """The workspace will be deleted at ``delete_after`` unless cancelled before then."""
    days = GRACE_PERIOD.days
    text_body = (
        f"Hello,\n\n"
        f"The Tandem workspace for {workspace} is scheduled for deletion ({reason}).\n\n"
        f"It will be deleted on {_when(delete_after)}.\n\n"
        f"Until then nothing is deleted, and the deletion can be cancelled:\n"
        f"- re-install Tandem on {workspace} before that time (a re-install within the\n"
        f"  {days}-day grace period cancels the deletion and keeps your sync rules and\n"
        f"  links), or\n"
        f"- contact Tandem support before then, who can cancel it.\n\n"
        f"After that time Tandem permanently deletes everything it holds for this\n"
        f"workspace (sync rules, issue links, sync history, audit trail, stored\n"
        f"credentials) and destroys its encryption keys. This cannot be undone. If you\n"
        f"want a copy, request an export of the workspace before then.\n\n"
        f"{SIGNATURE}"
    )
    return Message(
        to=to,
        subject=f"Tandem: {workspace} will be deleted on {delete_after:%Y-%m-%d}",
        text=text_body,
        kind="deletion_scheduled",
    )


def cancelled_notice(to: tuple[str, ...], workspace: str, delete_after: datetime) -> Message:
    """The scheduled deletion was cancelled; nothing was deleted."""
    text_body = (
        f"Hello,\n\n"
        f"The deletion of the Tandem workspace for {workspace}, which was scheduled for\n"
        f"{_when(delete_after)}, has been cancelled. Nothing was deleted, and the\n"
        f"workspace is active again.\n\n"
        f"{SIGNATURE}"
    )
    return Message(
        to=to,
        subject=f"Tandem: the deletion of {workspace} was cancelled",
        text=text_body,
        kind="deletion_cancelled",
    )


def deleted_notice(to: tuple[str, ...], workspace: str, deleted_at: datetime) -> Message:
    """The workspace is gone: every row deleted and its keys destroyed."""
    text_body = (
        f"Hello,\n\n"
        f"The Tandem workspace for {workspace} was deleted on {_when(deleted_at)}, as\n"
        f"scheduled.\n\n"
        f"Everything Tandem held for it has been deleted, and its encryption keys have\n"
        f"been destroyed, so nothing that was encrypted under them can be read again.\n"
        f"Tandem keeps only a record that a deletion took place, which does not name the\n"
        f"workspace. This is the last message you will receive about it.\n\n"
        f"{SIGNATURE}"
    )
    return Message(
        to=to,
        subject=f"Tandem: {workspace} has been deleted",
        text=text_body,
        kind="deletion_done",
    )


def _workspace_name(connection: Session | Connection) -> str:
    return connection.execute(text(WORKSPACE_NAME)).scalar_one()


def prepare_deleted_notice(connection: Connection, deleted_at: datetime) -> Message | None:
    """The "done" notice for the tenant bound to ``connection``, read before its rows are
    deleted; None when the workspace has no one to tell (a notice never stops the
    deletion it announces)."""
    to = workspace_recipients(connection)
    if not to:
        log.info("mail deletion_done: the workspace has no recipients")
        return None
    try:
        return deleted_notice(to, _workspace_name(connection), deleted_at)
    except ValueError as error:  # a stored address that is no longer valid, say
        log.warning("mail deletion_done not sent: %s", type(error).__name__)
        return None


def _message_for(change: DeletionChange, to: tuple[str, ...], workspace: str) -> Message:
    if change.change == "scheduled":
        return scheduled_notice(to, workspace, change.delete_after, change.reason)
    return cancelled_notice(to, workspace, change.delete_after)


def prepare_notices(session: Session) -> None:
    """before_commit: turn the transaction's deletion changes into messages (free when
    there are none: most commits are not about deletion)."""
    changes: list[DeletionChange] = session.info.pop(PENDING_NOTICES, [])
    if not changes:
        return
    to = workspace_recipients(session)
    if not to:
        log.info("deletion notices: the workspace has no recipients (%d skipped)", len(changes))
        return
    workspace = _workspace_name(session)
    outgoing = session.info.setdefault(OUTGOING, [])
    for change in changes:
        try:
            outgoing.append(_message_for(change, to, workspace))
        except ValueError as error:  # never let a notice fail the change it announces
            log.warning("mail deletion_%s not sent: %s", change.change, type(error).__name__)


def send_prepared(runtime: Runtime, session: Session) -> None:
    """after_commit: queue the messages the committed transaction prepared."""
    for message in session.info.pop(OUTGOING, []):
        send_mail(runtime, message)


def discard_notices(session: Session) -> None:
    """after_rollback: the changes did not happen, so nothing is announced."""
    session.info.pop(PENDING_NOTICES, None)
    session.info.pop(OUTGOING, None)


def watch_deletion_notices(runtime: Runtime) -> None:
    """Attach the notice hooks to the runtime's tenant sessions (once per database)."""
    if runtime.db.listen("before_commit", prepare_notices):
        runtime.db.listen("after_rollback", discard_notices)
        runtime.db.listen("after_commit", partial(send_prepared, runtime))
