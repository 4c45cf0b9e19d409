"""Shared helpers: repository paths, progress messages, private files, small probes."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = REPO_ROOT / ".run"

_TRUE = {"1", "true", "yes", "on"}


class SetupError(Exception):
    """An expected failure: the CLI prints the message as one line and exits 1."""


def say(message: str) -> None:
    """Print one progress line."""
    print(f"tandem: {message}", flush=True)


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """Return True when ``name`` is set to a truthy value (1, true, yes, on)."""
    return environ.get(name, "").strip().lower() in _TRUE


def relative(path: Path) -> str:
    """Return ``path`` relative to the repository root when inside it (for messages)."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def ensure_run_dir(traversable: bool = False) -> Path:
    """Create ``.run`` (mode 0700) and keep it private: never readable or writable by others.

    ``traversable`` adds search-only permission (0711) so that a service account
    (the ``postgres`` user, when we are root) can reach its own subdirectory; it is
    kept while some entry of ``.run`` belongs to another user (that server may run).
    """
    RUN_DIR.mkdir(mode=0o700, exist_ok=True)
    uid = os.geteuid()
    traversable = traversable or any(entry.stat().st_uid != uid for entry in RUN_DIR.iterdir())
    os.chmod(RUN_DIR, 0o711 if traversable else 0o700)
    return RUN_DIR


def write_private_file(path: Path, text: str) -> None:
    """Atomically write ``text`` to ``path`` with mode 0600 (never readable by others)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Return True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def last_line(path: Path) -> str:
    """Return the last non-empty line of a log file, or '' when there is none."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def first_line(error: BaseException) -> str:
    """Return the first line of an exception's message."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def venv_bin() -> Path:
    """Return the bin directory of the virtualenv running us (else the repo's .venv)."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.executable).parent
    return REPO_ROOT / ".venv" / "bin"
