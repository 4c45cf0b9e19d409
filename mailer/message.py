"""One outgoing email: plain text, to a few addresses, with a short non-personal kind."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from mailer.addresses import check_address

KIND = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_SUBJECT = 900  # RFC 5322 lines stop at 998; the header is folded anyway
MAX_RECIPIENTS = 50  # SES's limit per message


@dataclass(frozen=True)
class Message:
    """A plain-text email. ``kind`` (e.g. ``deletion_scheduled``) names it in logs, which
    never carry the addresses or the body; so does ``repr``."""

    to: tuple[str, ...] = field(repr=False)
    subject: str = field(repr=False)
    text: str = field(repr=False)
    kind: str = "mail"

    def __post_init__(self) -> None:
        if isinstance(self.to, str) or not self.to:
            raise ValueError("to must be a non-empty tuple of addresses")
        if len(self.to) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients per message")
        object.__setattr__(self, "to", tuple(check_address(a, "to") for a in self.to))
        if not isinstance(self.kind, str) or not KIND.fullmatch(self.kind):
            raise ValueError("kind must be a short lower-case name like deletion_scheduled")
        subject = self.subject
        if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT:
            raise ValueError(f"subject must be 1 to {MAX_SUBJECT} characters")
        if "\r" in subject or "\n" in subject:
            raise ValueError("subject must be one line")
        if not isinstance(self.text, str):
            raise ValueError("text must be a string")

    def __repr__(self) -> str:
        return f"Message(kind={self.kind!r}, recipients={len(self.to)})"


def as_email(message: Message, sender: str, now: datetime | None = None) -> EmailMessage:
    """The RFC 5322 message: From, To, Subject, Date, Message-ID and a UTF-8 text body."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(message.to)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = make_msgid(domain=sender_domain(sender))
    email.set_content(message.text)
    return email


def sender_domain(sender: str) -> str:
    """The domain of a From value such as ``Tandem <no-reply@tandem.example>``."""
    return parseaddr(sender)[1].rsplit("@", 1)[-1]
