"""Worker and clock entry point: ``python rq_worker.py worker|clock``."""

from __future__ import annotations

import logging
import sys
import time

import redis
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.worker_pool import WorkerPool

from clock import register_schedule
from config import ConfigError, load_settings
from observability.error_tracking import init_error_tracking
from runtime import redis_client

log = logging.getLogger("tandem.clock")

# Highest priority first: a worker always drains lifecycle before maintenance.
QUEUES = ("lifecycle", "webhooks", "sync", "maintenance")


def run_worker(redis_url: str, processes: int = 1) -> None:
    """Serve every queue in priority order, with RQ's scheduler for retries.

    Jobs mostly wait on Jira, so ``processes`` workers (``WORKER_PROCESSES``) run side by
    side; each is a SimpleWorker, which runs jobs in its own process so the database
    pools and the DEK cache are reused instead of rebuilt in a fork per job."""
    connection = redis_client(redis_url)
    if processes > 1:
        WorkerPool(
            list(QUEUES), connection=connection, num_workers=processes, worker_class=SimpleWorker
        ).start(burst=False)
        return
    queues = [Queue(name, connection=connection) for name in QUEUES]
    SimpleWorker(queues, connection=connection).work(with_scheduler=True)


def run_clock(redis_url: str, retry_seconds: float = 5) -> None:
    """The single cron scheduler of the deployment; waits out a Redis outage."""
    while True:
        scheduler = CronScheduler(connection=redis_client(redis_url), name="tandem-clock")
        register_schedule(scheduler)
        try:
            scheduler.start()
            return
        except (redis.ConnectionError, redis.TimeoutError):
            log.warning("clock: Redis unreachable, retrying in %s s", retry_seconds)
            time.sleep(retry_seconds)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("worker", "clock"):
        print("usage: python rq_worker.py worker|clock", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return 3
    logging.basicConfig(level=settings.log_level)
    init_error_tracking(settings, argv[0])  # only when SENTRY_DSN is set
    if argv[0] == "worker":
        run_worker(settings.redis_url, settings.worker_processes)
    else:
        run_clock(settings.redis_url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
