"""The reset request's job: the web request only queues the keyed address, so a known
and an unknown address cost the request the same (one Redis write); the worker looks the
account up and emails the link. The job carries the HMAC key, never the address."""

from __future__ import annotations

from auth.accounts import AccountService
from runtime import Runtime, process_runtime

QUEUE = "maintenance"
JOB = "auth.reset_jobs.send_reset_link_job"


def queue_reset_link(runtime: Runtime, email_key: str) -> None:
    """Queue the look-up and email for one typed address (its directory key)."""
    runtime.queue(QUEUE).enqueue(
        JOB, email_key, description="send_reset_link_job", result_ttl=0, failure_ttl=24 * 3600
    )


def send_reset_link_job(email_key: str) -> bool:
    """Job: email a reset link when the key belongs to an account; whether one went."""
    from auth.resets import send_reset_link  # resets queues this job

    return send_reset_link(AccountService(process_runtime()), email_key)
