"""Tests' view of email: run the queued deliveries and read what the file backend wrote.

send_mail(runtime, Message(...))
deliver_queued_mail(runtime)
(mail,) = delivered_mail(runtime)   # EmailMessage objects, oldest first
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker

import runtime as runtime_module
from mailer.queue import QUEUE
from runtime import Runtime


def deliver_queued_mail(runtime: Runtime, with_scheduler: bool = False) -> None:
    """Run every job queued on the mail queue in a burst worker (in this process, with
    ``runtime`` as the jobs' process runtime); ``with_scheduler`` first moves due retries
    back onto the queue. Other jobs waiting on the same queue run too."""
    previous = runtime_module._process_runtime
    runtime_module._process_runtime = runtime
    try:
        queue = Queue(QUEUE, connection=runtime.redis)
        SimpleWorker([queue], connection=runtime.redis).work(
            burst=True, with_scheduler=with_scheduler
        )
    finally:
        runtime_module._process_runtime = previous


def mail_files(runtime: Runtime) -> list[Path]:
    """The .eml files in ``MAIL_DIR``, oldest first (their names start with the time)."""
    directory = Path(runtime.settings.mail_dir)
    return sorted(directory.glob("*.eml")) if directory.is_dir() else []


def delivered_mail(runtime: Runtime) -> list[EmailMessage]:
    """Every message the file backend wrote, parsed, oldest first."""
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in mail_files(runtime)
    ]


def mail_to(runtime: Runtime, address: str) -> list[EmailMessage]:
    """The delivered messages addressed to ``address``."""
    return [m for m in delivered_mail(runtime) if address in str(m["To"]).split(", ")]


@pytest.fixture
def clean_mail(runtime: Runtime) -> Runtime:
    """An empty ``MAIL_DIR`` and mail queue before the test (files of earlier tests go)."""
    for path in mail_files(runtime):
        path.unlink()
    Queue(QUEUE, connection=runtime.redis).empty()
    return runtime
