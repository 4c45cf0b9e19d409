"""``send_mail``: queue a message for delivery; never blocks on, or fails with, the backend.

The message itself is the argument of an RQ job on the maintenance queue, retried with
back-off when delivery fails (the backend is down, SES throttles). Wherever RQ or an
error report shows the job, it shows the description and the message's ``repr``: the
kind and the number of recipients. The job is dropped from Redis as soon as it
succeeds; one that failed every attempt stays in RQ's failed registry for
``FAILED_KEEP_SECONDS`` (it holds the addresses and the body; docs/DATA.md).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from rq import Retry

from mailer.message import Message

if TYPE_CHECKING:
    from runtime import Runtime

log = logging.getLogger(__name__)

QUEUE = "maintenance"
DELIVER_JOB = "mailer.jobs.deliver_mail"
JOB_PREFIX = "mail-"
# 4 attempts in all: now, then after 1, 5 and 30 minutes.
RETRY_INTERVALS = (60, 300, 1800)
FAILED_KEEP_SECONDS = 7 * 24 * 3600


def send_mail(runtime: Runtime, message: Message) -> bool:
    """Queue ``message`` for delivery; False (logged, not raised) if Redis refused it."""
    try:
        runtime.queue(QUEUE).enqueue(
            DELIVER_JOB,
            message,
            job_id=f"{JOB_PREFIX}{message.kind}-{uuid.uuid4()}",
            description=f"deliver_mail({message.kind})",  # RQ logs this; never the payload
            retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
            job_timeout=120,
            result_ttl=0,
            failure_ttl=FAILED_KEEP_SECONDS,
        )
    except RedisError:
        log.warning("mail %s for %d recipient(s) not queued: Redis", message.kind, len(message.to))
        return False
    log.info("mail %s queued for %d recipient(s)", message.kind, len(message.to))
    return True
