"""FORGE_APP_ID and FORGE_JWKS_URL are read and validated at start, in plain words."""

from __future__ import annotations

import pytest

from config import FORGE_JWKS_URL, ConfigError, load_settings

BASE = {"DATABASE_URL": "postgresql://app@localhost/tandem", "TANDEM_ENV": "test"}
APP_ID = "ari:cloud:ecosystem::app/6b7e2f5c-1d3a-4c8e-9f00-5a1b2c3d4e5f"


def test_forge_is_off_until_an_app_id_is_set_and_uses_atlassians_jwks() -> None:
    settings = load_settings(BASE)
    assert not settings.forge_configured
    assert settings.forge_jwks_url == FORGE_JWKS_URL
    assert FORGE_JWKS_URL == "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
    assert load_settings({**BASE, "FORGE_APP_ID": APP_ID}).forge_configured


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FORGE_APP_ID": "6b7e2f5c-1d3a-4c8e-9f00-5a1b2c3d4e5f"}, "FORGE_APP_ID"),
        ({"FORGE_APP_ID": "ari:cloud:ecosystem::app/nope"}, "FORGE_APP_ID"),
        ({"FORGE_JWKS_URL": "file:///etc/keys.json"}, "FORGE_JWKS_URL"),
    ],
)
def test_bad_forge_settings_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({**BASE, **environ})


def test_production_needs_an_https_jwks() -> None:
    with pytest.raises(ConfigError, match="production needs FORGE_JWKS_URL"):
        load_settings(
            {
                **BASE,
                "TANDEM_ENV": "production",
                "TANDEM_KEK_KEYS": "k1=" + "A" * 43 + "=",
                "TANDEM_BASE_URL": "https://tandem.example",
                "TANDEM_SECRET_KEY": "s" * 40,
                "FORGE_JWKS_URL": "http://forge.example/jwks.json",
            }
        )
