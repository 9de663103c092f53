"""What an HTTP client sends, checked: page paths that must stay inside the vault, and
query parameters. Each mistake is a BadRequest (400) saying what to change."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from ..read import INCLUDE_OPTIONS, BadRequest

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_vault_path(raw: str) -> str:
    """A vault-relative page path from a client, or BadRequest when it tries to leave the
    vault: absolute, `..`, backslashes, NUL, or any of those percent-encoded (decoded up
    to three more times, so `%2e%2e` and `%252e%252e` are caught too)."""
    if not raw or not raw.strip():
        raise BadRequest("a page path is required")
    probe = raw
    for _ in range(3):
        decoded = unquote(probe)
        if decoded == probe:
            break
        probe = decoded
    for candidate in (raw, probe):
        if "\x00" in candidate:
            raise BadRequest("path contains a NUL byte")
        if candidate.startswith(("/", "\\", "~")) or _DRIVE.match(candidate):
            raise BadRequest(f"path must be relative to the vault: {raw!r}")
        if "\\" in candidate:
            raise BadRequest(f"path must use '/' separators: {raw!r}")
        if any(part in ("..", ".") for part in candidate.split("/")):
            raise BadRequest(f"path may not leave the vault ('..' or '.'): {raw!r}")
    return raw



def split_list(values: Iterable[str]) -> list[str]:
    """`a,b` and repeated parameters alike → ['a', 'b']."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_include(values: Iterable[str]) -> tuple[str, ...]:
    include = split_list(values)
    unknown = [v for v in include if v not in INCLUDE_OPTIONS]
    if unknown:
        raise BadRequest(f"unknown include value(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(INCLUDE_OPTIONS)}")
    return tuple(dict.fromkeys(include))


def parse_int(value: str | None, name: str, *, lo: int, hi: int, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {value!r}") from None
    if not lo <= number <= hi:
        raise BadRequest(f"{name} must be from {lo} to {hi}, not {number}")
    return number


def parse_float(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number, not {value!r}") from None
