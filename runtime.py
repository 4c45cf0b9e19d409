"""The long-lived services one process needs: database, Redis and keys, built from Settings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import redis
import requests
from rq import Queue
from sqlalchemy import Engine

from auth.forge_keys import ForgeKeys
from auth.install_keys import InstallKeys
from auth.installation_cache import TtlCache
from compliance.deletion_notices import watch_deletion_notices
from config import ConfigError, Settings, load_settings
from jira.client import pooled_session
from keys.data_keys import KeyService
from keys.kek import KekProvider, provider_from_settings
from keys.keyring_file import create_keyring
from mailer.backends import Mailer, build_mailer
from models.db import Database, make_engine
from models.log_policy import LogPolicies
from sync.group_commit import GroupCommit

INSTALLATION_CACHE_SECONDS = 5
DEV_KEYRING = Path(__file__).resolve().parent / ".run" / "keyring.json"


class RedisBreaker:
    """After Redis fails, skip it for a few seconds instead of making every webhook wait
    for a connect time-out; the sweeper enqueues whatever was skipped."""

    def __init__(self, pause_seconds: float = 5.0) -> None:
        self.pause_seconds = pause_seconds
        self._open_until = 0.0

    def allows(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        self._open_until = time.monotonic() + self.pause_seconds


@dataclass
class Runtime:
    """Shared by the web app, the workers and the CLI of one process."""

    settings: Settings
    db: Database
    redis: redis.Redis
    keys: KeyService
    install_keys: InstallKeys
    forge_keys: ForgeKeys
    installations: TtlCache = field(default_factory=lambda: TtlCache(INSTALLATION_CACHE_SECONDS))
    # Forge installations by installation id (models/forge_lifecycle.py), for a few seconds.
    forge_sites: TtlCache = field(default_factory=lambda: TtlCache(INSTALLATION_CACHE_SECONDS))
    # Which account our own writes appear as, per site (sync/sites.py), for a few seconds.
    app_accounts: TtlCache = field(default_factory=lambda: TtlCache(INSTALLATION_CACHE_SECONDS))
    redis_breaker: RedisBreaker = field(default_factory=RedisBreaker)
    jira_http: requests.Session = field(default_factory=pooled_session)
    _maintenance: Engine | None = field(default=None, repr=False)
    _mailer: Mailer | None = field(default=None, init=False, repr=False)
    inbox: GroupCommit = field(init=False, repr=False)
    # Each tenant's log switches and log key, for a few seconds (models/log_policy.py).
    log_policies: LogPolicies = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from sync.inbox import record_arrivals  # sync.inbox names this class

        self.log_policies = LogPolicies(self.db, self.keys)
        # Concurrent webhooks of this process share one inbox transaction (sync/inbox.py).
        self.inbox = GroupCommit(lambda arrivals: record_arrivals(self, arrivals))

    def queue(self, name: str) -> Queue:
        """An RQ queue on this process's Redis connection."""
        return Queue(name, connection=self.redis)

    def maintenance_engine(self) -> Engine:
        """The maintenance role's engine (purges and cross-tenant key inventory)."""
        if self._maintenance is None:
            if not self.settings.database_maintenance_url:
                raise ConfigError("DATABASE_MAINTENANCE_URL is not set")
            self._maintenance = make_engine(self.settings.database_maintenance_url, pool_size=2)
        return self._maintenance

    def mailer(self) -> Mailer:
        """The mail backend ``MAIL_BACKEND`` names, built on first use. Jobs use it;
        everything else queues mail with ``mailer.send_mail``."""
        if self._mailer is None:
            self._mailer = build_mailer(self.settings)
        return self._mailer

    def close(self) -> None:
        self.db.dispose()
        if self._maintenance is not None:
            self._maintenance.dispose()
        self.redis.close()


def kek_provider(settings: Settings) -> KekProvider:
    """The configured KEK provider; development falls back to a keyring under .run/."""
    if not settings.kek_configured and settings.env == "development":
        create_keyring(DEV_KEYRING)
        settings = replace(settings, kek_keyring_path=str(DEV_KEYRING))
    return provider_from_settings(settings)


def redis_client(url: str) -> redis.Redis:
    """A Redis client with short timeouts, so a dead Redis is noticed, not waited on."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def build_runtime(settings: Settings) -> Runtime:
    """Connect everything lazily (engines and Redis connect on first use)."""
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        connect_args={"connect_timeout": 2, "application_name": "tandem"},
    )
    runtime = Runtime(
        settings=settings,
        db=Database(engine),
        redis=redis_client(settings.redis_url),
        keys=KeyService(kek_provider(settings), cache_seconds=settings.dek_cache_seconds),
        install_keys=InstallKeys(settings.connect_install_keys_url),
        forge_keys=ForgeKeys(settings.forge_jwks_url),
    )
    # Deletion scheduled / cancelled notices are mailed once their transaction commits.
    watch_deletion_notices(runtime)
    return runtime


_process_runtime: Runtime | None = None


def process_runtime() -> Runtime:
    """The runtime of a worker process, built on first use from the environment."""
    global _process_runtime
    if _process_runtime is None:
        _process_runtime = build_runtime(load_settings())
    return _process_runtime
