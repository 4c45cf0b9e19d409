"""The local keyring file: development KEKs kept outside the database and the repo.

Format (JSON, mode 0600): ``{"current": "<id>", "keys": {"<id>": "<base64 32 bytes>"}}``.
``python -m keys.keyring_file create PATH`` makes one if missing; ``add PATH`` adds a new
key and makes it current (then run ``flask keys rotate``).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from config import ConfigError
from keys import aead


class KeyringError(ConfigError):
    """The keyring file is missing, unreadable, too open or malformed."""


def new_kek_id() -> str:
    """A readable, unique KEK id: ``kek-<utc timestamp>-<random>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"kek-{stamp}-{os.urandom(3).hex()}"


def read_keyring(path: str | Path) -> tuple[str, dict[str, bytes]]:
    """Return (current id, {id: key}) and refuse a file others can read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        raise KeyringError(f"keyring file {path} does not exist") from None
    if mode & 0o077:
        raise KeyringError(f"keyring file {path} is readable by others (mode {mode:o}); chmod 600")
    try:
        data = json.loads(path.read_text())
        keys = {kid: base64.b64decode(raw, validate=True) for kid, raw in data["keys"].items()}
        current = data["current"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyringError(f"keyring file {path} is malformed") from exc
    if current not in keys or any(len(k) != aead.KEY_BYTES for k in keys.values()):
        raise KeyringError(f"keyring file {path} is malformed")
    return current, keys


def _write(path: Path, current: str, keys: dict[str, bytes]) -> None:
    data = {"current": current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def create_keyring(path: str | Path) -> bool:
    """Create a keyring with one fresh KEK unless the file exists; True if created."""
    path = Path(path)
    if path.exists():
        read_keyring(path)
        return False
    _write(path, *_with_new_key({}))
    return True


def add_key(path: str | Path) -> str:
    """Add a fresh KEK to the keyring, make it current, and return its id."""
    _, keys = read_keyring(path)
    current, keys = _with_new_key(keys)
    _write(Path(path), current, keys)
    return current


def _with_new_key(keys: dict[str, bytes]) -> tuple[str, dict[str, bytes]]:
    kid = new_kek_id()
    while kid in keys:
        kid = new_kek_id()
    return kid, {**keys, kid: aead.new_key()}


def main(argv: list[str]) -> int:
    """``create PATH`` or ``add PATH``."""
    if len(argv) != 2 or argv[0] not in ("create", "add"):
        print("usage: python -m keys.keyring_file create|add PATH", file=sys.stderr)
        return 2
    command, path = argv
    try:
        if command == "create":
            made = create_keyring(path)
            print(f"tandem: keyring {path} {'created' if made else 'present'}")
        else:
            print(f"tandem: added KEK {add_key(path)} to {path}; now run `flask keys rotate`")
    except KeyringError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
