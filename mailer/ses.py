"""Amazon SES v2 backend (``sesv2`` ``SendEmail`` with Simple content).

Credentials come only from the standard AWS chain (environment, shared config, instance
or task role); Tandem's own configuration never holds them. botocore does not retry:
the queued job owns retries and their back-off (mailer/queue.py).
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config

from mailer.message import Message

CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=15, retries={"mode": "standard", "total_max_attempts": 1}
)
# botocore's DEBUG records print whole request bodies (the addresses and the text), so
# its loggers never go below INFO, whatever LOG_LEVEL says.
for _name in ("botocore", "boto3"):
    logging.getLogger(_name).setLevel(logging.INFO)


class SesMailer:
    """Sends each message with one SES v2 ``SendEmail`` call; raises on any failure."""

    name = "ses"

    def __init__(self, sender: str, region: str, endpoint_url: str = "") -> None:
        self.sender = sender
        self._client: Any = boto3.session.Session().client(
            "sesv2", region_name=region, endpoint_url=endpoint_url or None, config=CLIENT_CONFIG
        )

    def send(self, message: Message) -> None:
        self._client.send_email(
            FromEmailAddress=self.sender,
            Destination={"ToAddresses": list(message.to)},
            Content={
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
                }
            },
            EmailTags=[{"Name": "kind", "Value": message.kind}],
        )
