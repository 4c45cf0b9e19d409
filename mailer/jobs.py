"""RQ job: deliver one queued message with the backend the settings name."""

from __future__ import annotations

import logging

from mailer.message import Message
from runtime import process_runtime

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """A delivery attempt failed; the message names the kind and the error class only,
    since a backend's own message may quote the addresses (RQ logs it)."""


def deliver_mail(message: Message) -> None:
    """Job: send the message now (a failure raises, and RQ retries with back-off).

    A cross-tenant job with no database work, so it carries no tenant."""
    mailer = process_runtime().mailer()
    try:
        mailer.send(message)
    except Exception as error:
        log.warning(
            "mail %s to %d recipient(s) failed via %s: %s",
            message.kind,
            len(message.to),
            mailer.name,
            error_name(error),
        )
        raise DeliveryFailed(f"{message.kind} via {mailer.name}: {error_name(error)}") from None
    log.info(
        "mail %s delivered to %d recipient(s) via %s", message.kind, len(message.to), mailer.name
    )


def error_name(error: Exception) -> str:
    """What went wrong, without the backend's free text: the class, and SES's error code."""
    name = type(error).__name__
    response = getattr(error, "response", None)  # botocore's ClientError carries the code
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        code = str(response["Error"].get("Code", ""))
        return name if code in ("", name) else f"{name} {code}"
    return name
