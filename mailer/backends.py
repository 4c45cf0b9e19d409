"""The ``Mailer`` interface and its local backends; ``build_mailer`` picks one from Settings.

``file`` writes each message as an .eml file (development, tests, and anyone who wants
to read what would have been sent); ``console`` prints it (development only); ``ses``
sends through Amazon SES (mailer/ses.py).
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

from config import Settings
from mailer.message import Message, as_email

BACKENDS = ("file", "console", "ses")


class Mailer(Protocol):
    """Something that delivers a message now, or raises (the queued job then retries)."""

    name: str

    def send(self, message: Message) -> None: ...


class FileMailer:
    """Writes each message as ``<UTC time>-<kind>-<random>.eml`` (mode 0600) into a 0700
    directory. The file appears whole (written under a temporary name, then renamed)."""

    name = "file"

    def __init__(self, directory: str | Path, sender: str) -> None:
        self.directory = Path(directory)
        self.sender = sender

    def send(self, message: Message) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        now = datetime.now(UTC)
        name = f"{now:%Y%m%dT%H%M%S%fZ}-{message.kind}-{secrets.token_hex(4)}.eml"
        data = as_email(message, self.sender, now).as_bytes()
        partial = self.directory / f".{name}.partial"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(partial, self.directory / name)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise


class ConsoleMailer:
    """Prints each message to stdout (development only; refused in production)."""

    name = "console"

    def __init__(self, sender: str, stream: TextIO | None = None) -> None:
        self.sender = sender
        self.stream = stream

    def send(self, message: Message) -> None:
        stream = self.stream or sys.stdout
        stream.write(f"{as_email(message, self.sender).as_string()}\n")
        stream.flush()


def build_mailer(settings: Settings) -> Mailer:
    """The backend ``MAIL_BACKEND`` names (config.py has validated the settings)."""
    if settings.mail_backend == "file":
        return FileMailer(settings.mail_dir, settings.mail_from)
    if settings.mail_backend == "console":
        return ConsoleMailer(settings.mail_from)
    if settings.mail_backend == "ses":
        from mailer.ses import SesMailer  # boto3 is loaded only where SES is used

        return SesMailer(settings.mail_from, settings.mail_ses_region, settings.mail_ses_endpoint)
    raise ValueError(f"MAIL_BACKEND must be one of {', '.join(BACKENDS)}")
