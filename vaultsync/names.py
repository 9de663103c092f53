"""Names in a vault that Windows cannot hold (pure: no disk).

A vault kept on Linux or macOS and synced to Windows (Obsidian Sync, Dropbox, git)
loses such a file there, or fails to sync it. Such a page is still indexed where it
lives; its path gets one problem row that says why (see batch.py's writer).

Windows refuses, in any folder or file name:
- the device names CON, PRN, AUX, NUL, COM0-9 and LPT0-9 (with the superscript
  digits ¹²³ too), whatever their case and extension (`con.md`, `aux.tar.gz`);
- the characters `< > : " \\ | ? *` and the control characters U+0000-U+001F;
- a trailing dot or space.
"""

from __future__ import annotations

import re

_DEVICE = re.compile(r"(?:CON|PRN|AUX|NUL|(?:COM|LPT)[0-9¹²³])", re.IGNORECASE)
_RESERVED_CHARACTERS = frozenset('<>:"\\|?*') | {chr(c) for c in range(32)}
# What may be wrong at all: a reserved character, a part ending in a dot or a space, or a
# part that may be a device name. Most paths have none of these and are passed by one
# search (a sync asks for every page).
_SUSPECT = re.compile(r'[<>:"\\|?*\x00-\x1f]|[. ](?:/|$)'
                      r'|(?:^|/)(?:CON|PRN|AUX|NUL|(?:COM|LPT)[0-9¹²³]) *(?:[./]|$)',
                      re.IGNORECASE)


def windows_name_problem(path: str) -> str | None:
    """Why Windows cannot hold vault path `path` (POSIX, vault-relative), or None."""
    if _SUSPECT.search(path) is None:
        return None
    return part_by_part(path)


def part_by_part(path: str) -> str | None:
    """windows_name_problem without its quick pass (the tests hold the two equal)."""
    for part in path.split("/"):
        why = _part_problem(part)
        if why is not None:
            return f"cannot be synced to Windows: {why}"
    return None


def _part_problem(part: str) -> str | None:
    bad = sorted({c for c in part if c in _RESERVED_CHARACTERS})
    if bad:
        shown = " ".join(repr(c)[1:-1] if c.isprintable() else f"U+{ord(c):04X}"
                         for c in bad)
        return f"{part!r} holds a character Windows reserves ({shown})"
    if part.endswith((".", " ")):
        return f"{part!r} ends with a {'dot' if part.endswith('.') else 'space'}"
    stem = part.split(".", 1)[0].rstrip(" ")
    if _DEVICE.fullmatch(stem):
        return f"{part!r} is a device name on Windows ({stem.upper()})"
    return None
