"""What a sync job keeps of the Jira responses it read, by the tenant's log policy.

A job's meter collects the bodies worth keeping (jira/raw_bodies.py) while the tenant
has ``raw_response_days`` above 0, and the job stores them once, at its end: sealing is
~60 µs a body, and the whole job costs one extra INSERT, never one per call.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import SQLAlchemyError

from jira.meter import CallMeter
from jira.raw_bodies import RawBodies
from keys.aead import InvalidCiphertext
from models.raw_responses import store_raw_responses
from runtime import Runtime

log = logging.getLogger(__name__)


def job_meter(runtime: Runtime, tenant_id: uuid.UUID) -> CallMeter:
    """A meter for one job of the tenant (it collects bodies when they are kept)."""
    policy = runtime.log_policies.get(tenant_id)
    return CallMeter(raw=RawBodies() if policy.keeps_raw_responses else None)


def keep_raw_responses(runtime: Runtime, tenant_id: uuid.UUID, meter: CallMeter) -> None:
    """Store the bodies the job's meter collected. Best effort: the responses are for
    diagnosis, so a failure is logged and never fails the sync itself."""
    if meter.raw is None or not meter.raw.bodies:
        return
    policy = runtime.log_policies.get(tenant_id)
    if not policy.keeps_raw_responses or policy.log_key_id is None:
        return
    try:
        store_raw_responses(
            runtime.db, runtime.keys, tenant_id, policy.log_key_id, meter.raw.bodies
        )
    except (SQLAlchemyError, InvalidCiphertext) as error:
        runtime.log_policies.forget(tenant_id)
        log.warning("raw responses of tenant %s not kept: %s", tenant_id, type(error).__name__)
