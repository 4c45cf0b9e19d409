"""Env files: ``KEY=VALUE`` lines readable by both honcho and ``set -a; . FILE``."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

from devtools.common import SetupError, write_private_file

_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./?-]*")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HEADER = "# Written by `python -m devtools.setup`; regenerated on every run. Do not edit.\n"
PASSTHROUGH_PREFIX = "# from the environment:"


def render(values: Mapping[str, str], passthrough: Iterable[str] = ()) -> str:
    """Render ``values`` as env-file text.

    Values are written bare; one that a shell would mangle (a space, ``&``, ``$``,
    a quote …) is single-quoted, which honcho's parser also understands. Keys in
    ``passthrough`` (copied from the environment, not generated) are named in a comment.
    """
    names = " ".join(passthrough)
    lines = [f"{PASSTHROUGH_PREFIX} {names}\n"] if names else []
    for key, value in values.items():
        if not _KEY.fullmatch(key):
            raise SetupError(f"invalid environment variable name {key!r}")
        if "\n" in value or "\r" in value or "\0" in value:
            raise SetupError(f"{key} contains a line break, which an env file cannot hold")
        lines.append(f"{key}={value if _PLAIN.fullmatch(value) else shlex.quote(value)}\n")
    return HEADER + "".join(lines)


def write(path: Path, values: Mapping[str, str], passthrough: Iterable[str] = ()) -> None:
    """Write ``values`` to ``path`` (mode 0600, atomically); see ``render``."""
    write_private_file(path, render(values, passthrough))


def passed_through(path: Path) -> set[str]:
    """Return the keys that ``path`` marks as copied from the environment."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    found = (line for line in lines if line.startswith(PASSTHROUGH_PREFIX))
    return set(next(found, PASSTHROUGH_PREFIX)[len(PASSTHROUGH_PREFIX) :].split())


def read(path: Path) -> dict[str, str]:
    """Read an env file written by ``write`` (missing file -> empty dict)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        key, sep, raw = line.partition("=")
        if not (sep and _KEY.fullmatch(key)):
            continue
        try:
            values[key] = (shlex.split(raw) or [""])[0]
        except ValueError:  # unbalanced quotes: not one of ours
            continue
    return values
