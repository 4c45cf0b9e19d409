"""One Settings object, read from the environment and validated at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ENVIRONMENTS = ("development", "test", "production")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable Tandem; the message says what to set."""


@dataclass(frozen=True)
class Settings:
    """Everything Tandem reads from its environment. See the README's configuration table."""

    env: str = "development"
    database_url: str = ""
    database_owner_url: str = ""
    database_maintenance_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    secret_key: str = ""
    kek_keyring_path: str = ""
    kek_keys: str = ""
    kek_current: str = ""
    dek_cache_seconds: int = 300
    db_pool_size: int = 5
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def kek_configured(self) -> bool:
        return bool(self.kek_keyring_path or self.kek_keys)


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise ConfigError naming what to set."""
    environ = os.environ if environ is None else environ
    env = environ.get("TANDEM_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"TANDEM_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    settings = Settings(
        env=env,
        database_url=environ.get("DATABASE_URL", ""),
        database_owner_url=environ.get("DATABASE_OWNER_URL", ""),
        database_maintenance_url=environ.get("DATABASE_MAINTENANCE_URL", ""),
        redis_url=environ.get("REDIS_URL", Settings.redis_url),
        secret_key=environ.get("TANDEM_SECRET_KEY", ""),
        kek_keyring_path=environ.get("TANDEM_KEK_KEYRING", ""),
        kek_keys=environ.get("TANDEM_KEK_KEYS", ""),
        kek_current=environ.get("TANDEM_KEK_CURRENT", ""),
        dek_cache_seconds=_int(environ, "TANDEM_DEK_CACHE_SECONDS", 300),
        db_pool_size=_int(environ, "TANDEM_DB_POOL_SIZE", 5, minimum=1),
        log_level=environ.get("LOG_LEVEL", "INFO").upper(),
    )
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if not settings.database_url:
        raise ConfigError(
            "DATABASE_URL is not set: run `make run` (development) or set it to the app role's URL"
        )
    if settings.kek_keyring_path and settings.kek_keys:
        raise ConfigError("set only one of TANDEM_KEK_KEYRING and TANDEM_KEK_KEYS")
    if settings.is_production:
        if not settings.kek_configured:
            raise ConfigError(
                "production needs a key-encryption key: set TANDEM_KEK_KEYS "
                "(id=base64key,...) or TANDEM_KEK_KEYRING (path to a keyring file)"
            )
        if len(settings.secret_key) < 32:
            raise ConfigError("production needs TANDEM_SECRET_KEY of at least 32 characters")
