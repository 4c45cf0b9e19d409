"""One Settings object, read from the environment and validated at start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "test", "production")
# Settings field -> environment variable, for the Atlassian OAuth 2.0 (3LO) endpoints.
OAUTH_URLS = {
    "oauth_authorize_url": "OAUTH_AUTHORIZE_URL",
    "oauth_token_url": "OAUTH_TOKEN_URL",
    "oauth_resources_url": "OAUTH_RESOURCES_URL",
    "oauth_api_base": "OAUTH_API_BASE",
    "oauth_revoke_url": "OAUTH_REVOKE_URL",
}


ROOT = Path(__file__).resolve().parent
FORGE_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
FORGE_APP_ID = re.compile(
    r"ari:cloud:ecosystem::app/[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
)
DEFAULT_EXPORT_DIR = ROOT / ".run" / "exports"
DEFAULT_MAIL_DIR = ROOT / ".run" / "mail"
MAIL_BACKENDS = ("file", "console", "ses")
DEFAULT_MAIL_FROM = "Tandem <no-reply@tandem.invalid>"


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
    worker_processes: int = 4
    log_level: str = "INFO"
    base_url: str = "http://127.0.0.1:8000"
    app_key: str = "io.tandem.jira-sync"
    connect_audiences: tuple[str, ...] = ()
    connect_install_keys_url: str = "https://connect-install-keys.atlassian.com"
    # The local Jira stand-in (development and tests): it may frame the iframe routes.
    sandbox_url: str = ""
    jwt_leeway_seconds: int = 30
    webhook_max_bytes: int = 256 * 1024
    # Dashboard accounts (auth/): argon2id profile, sessions, lockout, rate limits, proxies.
    password_hash_profile: str = "rfc9106-low-memory"  # noqa: S105 - a profile name
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    lockout_minutes: int = 15
    auth_ip_limit: str = "30/minute"
    auth_account_limit: str = "20/hour"
    trusted_proxies: int = 0
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    oauth_authorize_url: str = "https://auth.atlassian.com/authorize"
    oauth_token_url: str = "https://auth.atlassian.com/oauth/token"  # noqa: S105 - a URL
    oauth_resources_url: str = "https://api.atlassian.com/oauth/token/accessible-resources"
    oauth_api_base: str = "https://api.atlassian.com/ex/jira"
    forge_app_id: str = ""  # ari:cloud:ecosystem::app/<uuid>; empty: no Forge remote
    forge_jwks_url: str = FORGE_JWKS_URL
    # RFC 7009 revocation, as auth.atlassian.com's metadata advertises it (docs/cleanup.md).
    oauth_revoke_url: str = "https://auth.atlassian.com/oauth/revoke"
    sentry_dsn: str = ""
    sentry_environment: str = ""
    export_dir: str = str(DEFAULT_EXPORT_DIR)
    mail_backend: str = "file"
    mail_from: str = DEFAULT_MAIL_FROM
    mail_dir: str = str(DEFAULT_MAIL_DIR)
    mail_ses_region: str = ""
    mail_ses_endpoint: str = ""

    def __repr__(self) -> str:  # never print the secrets
        return f"Settings(env={self.env!r}, base_url={self.base_url!r})"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def audiences(self) -> tuple[str, ...]:
        """The ``aud`` values a signed install may carry: our base URL and any configured."""
        return (self.base_url, *self.connect_audiences)

    @property
    def kek_configured(self) -> bool:
        return bool(self.kek_keyring_path or self.kek_keys)

    @property
    def oauth_configured(self) -> bool:
        """Whether an Atlassian OAuth 2.0 (3LO) client is set (remote sites can connect)."""
        return bool(self.oauth_client_id and self.oauth_client_secret)

    @property
    def oauth_redirect_url(self) -> str:
        """The callback registered with the OAuth client: ``TANDEM_BASE_URL/oauth/callback``."""
        return f"{self.base_url}/oauth/callback"

    @property
    def forge_configured(self) -> bool:
        """Whether Tandem is the remote of a Forge app (``FORGE_APP_ID`` is set)."""
        return bool(self.forge_app_id)

    @property
    def error_tracking_configured(self) -> bool:
        """Whether errors are reported to a Sentry-compatible endpoint (``SENTRY_DSN``)."""
        return bool(self.sentry_dsn)


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


def _directory(name: str, raw: str, default: Path) -> str:
    """A directory setting as an absolute path (a relative one is taken from the code's
    root); it may not exist yet (its writer creates it), but must not be a file."""
    if not raw:
        return str(default)
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else ROOT / path
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name} must be a directory, and {raw!r} is not one")
    return str(path)


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
        worker_processes=_int(environ, "WORKER_PROCESSES", 4, minimum=1),
        log_level=environ.get("LOG_LEVEL", "INFO").upper(),
        base_url=environ.get("TANDEM_BASE_URL", Settings.base_url).rstrip("/"),
        app_key=environ.get("TANDEM_APP_KEY", Settings.app_key),
        connect_audiences=tuple(
            url.strip().rstrip("/")
            for url in environ.get("CONNECT_AUDIENCES", "").split(",")
            if url.strip()
        ),
        connect_install_keys_url=environ.get(
            "CONNECT_INSTALL_KEYS_URL", Settings.connect_install_keys_url
        ).rstrip("/"),
        sandbox_url=environ.get("SANDBOX_URL", "").strip().rstrip("/"),
        jwt_leeway_seconds=_int(environ, "JWT_LEEWAY_SECONDS", 30),
        webhook_max_bytes=_int(environ, "WEBHOOK_MAX_BYTES", 256 * 1024, minimum=1024),
        password_hash_profile=environ.get("PASSWORD_HASH_PROFILE", "").strip()
        or ("test" if env == "test" else Settings.password_hash_profile),
        session_idle_minutes=_int(environ, "SESSION_IDLE_MINUTES", 30, minimum=1),
        session_absolute_hours=_int(environ, "SESSION_ABSOLUTE_HOURS", 12, minimum=1),
        lockout_minutes=_int(environ, "LOCKOUT_MINUTES", 15, minimum=1),
        auth_ip_limit=environ.get("AUTH_RATE_LIMIT_IP", "").strip() or Settings.auth_ip_limit,
        auth_account_limit=environ.get("AUTH_RATE_LIMIT_ACCOUNT", "").strip()
        or Settings.auth_account_limit,
        trusted_proxies=_int(environ, "TRUSTED_PROXIES", 0),
        oauth_client_id=environ.get("OAUTH_CLIENT_ID", "").strip(),
        oauth_client_secret=environ.get("OAUTH_CLIENT_SECRET", ""),
        **{
            field: environ.get(name, getattr(Settings, field)).rstrip("/")
            for field, name in OAUTH_URLS.items()
        },
        forge_app_id=environ.get("FORGE_APP_ID", "").strip(),
        forge_jwks_url=environ.get("FORGE_JWKS_URL", FORGE_JWKS_URL).strip(),
        sentry_dsn=environ.get("SENTRY_DSN", "").strip(),
        sentry_environment=environ.get("SENTRY_ENVIRONMENT", "").strip() or env,
        export_dir=_directory(
            "EXPORT_DIR", environ.get("EXPORT_DIR", "").strip(), DEFAULT_EXPORT_DIR
        ),
        mail_backend=environ.get("MAIL_BACKEND", "").strip().lower() or "file",
        mail_from=environ.get("MAIL_FROM", "").strip() or DEFAULT_MAIL_FROM,
        mail_dir=_directory("MAIL_DIR", environ.get("MAIL_DIR", "").strip(), DEFAULT_MAIL_DIR),
        mail_ses_region=environ.get("MAIL_SES_REGION", "").strip(),
        mail_ses_endpoint=environ.get("MAIL_SES_ENDPOINT", "").strip().rstrip("/"),
    )
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if not settings.database_url:
        raise ConfigError(
            "DATABASE_URL is not set: run `make run` (development) or set it to the app role's URL"
        )
    if settings.jwt_leeway_seconds > 30:
        raise ConfigError("JWT_LEEWAY_SECONDS must be at most 30")
    _validate_accounts(settings)
    if not settings.base_url.startswith(("https://", "http://")):
        raise ConfigError("TANDEM_BASE_URL must be an http(s) URL")
    if settings.sandbox_url and not settings.sandbox_url.startswith(("https://", "http://")):
        raise ConfigError("SANDBOX_URL must be an http(s) URL")
    if bool(settings.oauth_client_id) != bool(settings.oauth_client_secret):
        raise ConfigError("set both OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET, or neither")
    for field, name in OAUTH_URLS.items():
        if not getattr(settings, field).startswith(("https://", "http://")):
            raise ConfigError(f"{name} must be an http(s) URL")
    _validate_forge(settings)
    if settings.sentry_dsn:
        _validate_dsn(settings.sentry_dsn, https_only=settings.is_production)
    _validate_mail(settings)
    if settings.kek_keyring_path and settings.kek_keys:
        raise ConfigError("set only one of TANDEM_KEK_KEYRING and TANDEM_KEK_KEYS")
    if settings.is_production:
        if not settings.kek_configured:
            raise ConfigError(
                "production needs a key-encryption key: set TANDEM_KEK_KEYS "
                "(id=base64key,...) or TANDEM_KEK_KEYRING (path to a keyring file)"
            )
        if not settings.base_url.startswith("https://"):
            raise ConfigError("production needs TANDEM_BASE_URL to be an https:// URL")
        if len(settings.secret_key) < 32:
            raise ConfigError("production needs TANDEM_SECRET_KEY of at least 32 characters")
        for field, name in OAUTH_URLS.items():
            if not getattr(settings, field).startswith("https://"):
                raise ConfigError(f"production needs {name} to be an https:// URL")


def _validate_mail(settings: Settings) -> None:
    """MAIL_*: a known backend; console never in production; SES needs a region and a
    real sender (an identity verified in SES), and an https endpoint in production."""
    from mailer.addresses import InvalidAddress, check_address  # mailer imports config

    backend = settings.mail_backend
    if backend not in MAIL_BACKENDS:
        choices = ", ".join(MAIL_BACKENDS)
        raise ConfigError(f"MAIL_BACKEND must be one of {choices}, got {backend!r}")
    if backend == "console" and settings.is_production:
        raise ConfigError("MAIL_BACKEND=console prints mail to stdout: not in production")
    shape = "MAIL_FROM must be one address, e.g. Tandem <no-reply@example.com>"
    if "\r" in settings.mail_from or "\n" in settings.mail_from:
        raise ConfigError(shape)
    try:
        address = check_address(parseaddr(settings.mail_from)[1], "MAIL_FROM")
    except InvalidAddress:
        raise ConfigError(shape) from None
    if backend != "ses":
        return
    if not settings.mail_ses_region:
        raise ConfigError("MAIL_BACKEND=ses needs MAIL_SES_REGION (e.g. eu-west-1)")
    if address.endswith(".invalid"):
        raise ConfigError("MAIL_BACKEND=ses needs MAIL_FROM: an address or domain verified in SES")
    endpoint = settings.mail_ses_endpoint
    if endpoint and not endpoint.startswith(("https://", "http://")):
        raise ConfigError("MAIL_SES_ENDPOINT must be an http(s) URL")
    if endpoint and settings.is_production and not endpoint.startswith("https://"):
        raise ConfigError("production needs MAIL_SES_ENDPOINT to be an https:// URL")


def _validate_forge(settings: Settings) -> None:
    if settings.forge_app_id and not FORGE_APP_ID.fullmatch(settings.forge_app_id):
        raise ConfigError("FORGE_APP_ID must look like ari:cloud:ecosystem::app/<uuid>")
    if not settings.forge_jwks_url.startswith(("https://", "http://")):
        raise ConfigError("FORGE_JWKS_URL must be an http(s) URL")
    if settings.is_production and not settings.forge_jwks_url.startswith("https://"):
        raise ConfigError("production needs FORGE_JWKS_URL to be an https:// URL")


def _validate_accounts(settings: Settings) -> None:
    """PASSWORD_HASH_PROFILE, the rate-limit strings and the session lengths."""
    from limits import parse_many

    from auth.passwords import PROFILES  # auth imports nothing of config at module level

    if settings.password_hash_profile not in PROFILES:
        choices = ", ".join(PROFILES)
        raise ConfigError(f"PASSWORD_HASH_PROFILE must be one of {choices}")
    if settings.is_production and settings.password_hash_profile == "test":  # noqa: S105
        raise ConfigError("PASSWORD_HASH_PROFILE=test is too weak for production")
    for name, value in (
        ("AUTH_RATE_LIMIT_IP", settings.auth_ip_limit),
        ("AUTH_RATE_LIMIT_ACCOUNT", settings.auth_account_limit),
    ):
        try:
            parse_many(value)
        except ValueError:
            raise ConfigError(f"{name} must look like 30/minute, got {value!r}") from None
    if settings.session_idle_minutes > settings.session_absolute_hours * 60:
        raise ConfigError("SESSION_IDLE_MINUTES must not exceed SESSION_ABSOLUTE_HOURS")


def _validate_dsn(dsn: str, https_only: bool) -> None:
    """A Sentry DSN is ``scheme://key@host[:port]/[path/]project``; the message never
    repeats the DSN, since the key in it is a credential."""
    shape = "SENTRY_DSN must look like https://<key>@<host>/<project>"
    try:
        parts = urlsplit(dsn)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ConfigError(shape) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(shape)
    if not parts.username:
        raise ConfigError(f"{shape}: the key is missing")
    if not parts.path.rstrip("/").rsplit("/", 1)[-1]:
        raise ConfigError(f"{shape}: the project is missing")
    if https_only and parts.scheme != "https":
        raise ConfigError("production needs SENTRY_DSN to be an https:// URL")
