"""Settling a test world: deliver the sandbox's webhooks and run Tandem's queued jobs
in-process, again while Tandem's own writes cause more, until nothing is left."""

from __future__ import annotations

from collections.abc import Iterable

from rq import Queue, SimpleWorker

from runtime import Runtime
from sandbox.testing import RunningSandbox


def settle(
    runtime: Runtime, sandbox: RunningSandbox, queue_names: Iterable[str], rounds: int
) -> None:
    """Up to ``rounds`` rounds of: wait for the sandbox's deliveries, then drain the queues."""
    queues = [Queue(name, connection=runtime.redis) for name in queue_names]
    for _ in range(rounds):
        assert sandbox.wait_for_deliveries(20)["idle"]
        if not any(queue.count for queue in queues):
            return
        SimpleWorker(queues, connection=runtime.redis).work(burst=True)
