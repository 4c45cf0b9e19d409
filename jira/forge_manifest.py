"""The Forge manifest's permission scopes, generated from the call registry.

``forge/manifest.yml`` is what ``forge deploy`` reads; its ``permissions.scopes`` block
(between the BEGIN/END comments) is written from ``forge_scopes()``, so the manifest,
the Connect descriptor and the OAuth consent all ask for what the registered calls need.

    python -m jira.forge_manifest          # exit 1 (and say why) if the block is stale
    python -m jira.forge_manifest --write  # rewrite the block
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from jira.calls import forge_scopes

MANIFEST = Path(__file__).resolve().parent.parent / "forge" / "manifest.yml"
BLOCK = re.compile(r"(?m)^(?P<indent> *)# BEGIN scopes.*\n(?:.*\n)*?(?P=indent)# END scopes.*$")


def with_scopes(text: str, scopes: list[str]) -> str:
    """The manifest text with its scopes block holding exactly ``scopes``."""
    match = BLOCK.search(text)
    if match is None:
        raise ValueError("the manifest has no '# BEGIN scopes' ... '# END scopes' block")
    indent = match.group("indent")
    first, *_, last = match.group(0).splitlines()
    lines = [first, *(f"{indent}- {scope}" for scope in scopes), last]
    return text[: match.start()] + "\n".join(lines) + text[match.end() :]


def main(argv: list[str]) -> int:
    text = MANIFEST.read_text()
    wanted = with_scopes(text, forge_scopes())
    if "--write" in argv:
        MANIFEST.write_text(wanted)
        return 0
    if wanted != text:
        print(f"{MANIFEST}: permissions.scopes is stale; run with --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
