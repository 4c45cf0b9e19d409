"""Role passwords: generated once, kept in ``.run/db-passwords.json`` (mode 0600)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from pathlib import Path

from devtools.common import RUN_DIR, SetupError, ensure_run_dir, relative, write_private_file

PASSWORDS_FILE = RUN_DIR / "db-passwords.json"


def load_or_create(roles: Iterable[str], path: Path = PASSWORDS_FILE) -> dict[str, str]:
    """Return a password for each role, generating and saving any that are missing."""
    stored = _load(path)
    missing = [role for role in roles if not stored.get(role)]
    for role in missing:
        stored[role] = secrets.token_urlsafe(24)
    if missing or not path.exists():
        ensure_run_dir()
        write_private_file(path, json.dumps(stored, indent=2, sort_keys=True) + "\n")
    else:
        path.chmod(0o600)
    return stored


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SetupError(
            f"cannot read {relative(path)} ({exc}); delete it to generate new passwords"
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SetupError(f"{relative(path)} is not a JSON object of role -> password; delete it")
    return data
