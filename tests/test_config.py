"""Configuration: production refuses to start without a KEK; bad values are named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from devtools import envfile
from devtools.setup import secret_key_value
from keys.kek import parse_env_keys, provider_from_settings
from keys.keyring_file import KeyringError, add_key, create_keyring, read_keyring

ROOT = Path(__file__).resolve().parent.parent
BASE = {"DATABASE_URL": "postgresql://app@127.0.0.1/x"}


def test_production_app_refuses_to_start_without_a_kek() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "TANDEM_ENV": "production",
        "DATABASE_URL": "postgresql://app@127.0.0.1/x",
        "TANDEM_SECRET_KEY": "x" * 40,
        "TANDEM_BASE_URL": "https://tandem.example",
    }
    result = subprocess.run(
        [sys.executable, "-c", "from app import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stderr.strip().startswith("tandem: production needs a key-encryption key")
    assert "TANDEM_KEK_KEYS" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_validation_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings({})
    with pytest.raises(ConfigError, match="TANDEM_ENV"):
        load_settings({**BASE, "TANDEM_ENV": "staging"})
    with pytest.raises(ConfigError, match="TANDEM_DEK_CACHE_SECONDS"):
        load_settings({**BASE, "TANDEM_DEK_CACHE_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="TANDEM_SECRET_KEY"):
        load_settings(
            {
                **BASE,
                "TANDEM_ENV": "production",
                "TANDEM_KEK_KEYS": "k=" + "A" * 44,
                "TANDEM_BASE_URL": "https://t.example",
            }
        )


def test_env_kek_parsing() -> None:
    key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    keks = parse_env_keys(f"old={key},new={key}", current="new")
    assert keks.current_id() == "new"
    assert parse_env_keys(f"first={key}").current_id() == "first"
    for bad in ("", "nokey", "k=not base64!", "k=AAAA"):
        with pytest.raises(ConfigError):
            parse_env_keys(bad)
    assert key not in repr(keks)


def test_keyring_file_is_private_and_rotatable(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    assert create_keyring(path) is True
    assert path.stat().st_mode & 0o777 == 0o600
    assert create_keyring(path) is False
    first, _ = read_keyring(path)
    second = add_key(path)
    current, keys = read_keyring(path)
    assert current == second != first and set(keys) == {first, second}
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="readable by others"):
        read_keyring(path)


def test_no_kek_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TANDEM_KEK_KEYRING"):
        provider_from_settings(load_settings(BASE))


def test_oauth_settings_default_to_atlassian_and_are_validated() -> None:
    settings = load_settings({**BASE, "TANDEM_BASE_URL": "https://t.example/"})
    assert not settings.oauth_configured
    assert settings.oauth_authorize_url == "https://auth.atlassian.com/authorize"
    assert settings.oauth_token_url == "https://auth.atlassian.com/oauth/token"
    assert settings.oauth_api_base == "https://api.atlassian.com/ex/jira"
    assert settings.oauth_redirect_url == "https://t.example/oauth/callback"
    secret = "client-secret-value"
    configured = load_settings({**BASE, "OAUTH_CLIENT_ID": "id", "OAUTH_CLIENT_SECRET": secret})
    assert configured.oauth_configured and secret not in repr(configured)
    with pytest.raises(ConfigError, match="OAUTH_CLIENT_SECRET"):
        load_settings({**BASE, "OAUTH_CLIENT_ID": "id"})
    with pytest.raises(ConfigError, match="OAUTH_TOKEN_URL"):
        load_settings({**BASE, "OAUTH_TOKEN_URL": "ftp://x"})


def test_make_run_generates_the_secret_key_once(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    first = secret_key_value(env_file, {})
    assert first is not None and len(first) >= 32
    envfile.write(env_file, {"TANDEM_SECRET_KEY": first})
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert secret_key_value(env_file, {}) == first, "kept across runs"
    assert secret_key_value(env_file, {"TANDEM_SECRET_KEY": "operator's own"}) is None
