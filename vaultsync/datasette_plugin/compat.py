"""Which Datasette runs the plugin, and so which way it hands Datasette the mirror's metadata.

Datasette 0.6x asks plugins for metadata (descriptions, table settings, canned queries)
through the `get_metadata` hook, many times per request. Datasette 1.0 removed that hook:
metadata lives in its internal database (`set_*_metadata`), canned queries became stored
queries there too (`add_query`, from 1.0a31), and table settings (facets, sort,
label_column, full-text search, hidden) belong to its configuration, datasette.yaml. The
plugin reads the version once, when it is imported, and takes the matching path.
"""

from __future__ import annotations

import re

# The first 1.0 alpha with stored queries (`datasette.add_query`); older 1.0 alphas are
# not supported.
FIRST_SUPPORTED_1 = "1.0a31"

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc)(\d+))?")
_PRE_RELEASE = {"a": 0, "b": 1, "rc": 2}
_FINAL = 3


def version_key(version: str) -> tuple[int, int, int, int, int]:
    """A sortable key of a Datasette version: 0.65.5 → (0, 65, 5, 3, 0), 1.0a41 →
    (1, 0, 0, 0, 41); pre-releases sort before their release."""
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(f"not a Datasette version: {version!r}")
    major, minor, micro, pre, number = match.groups()
    return (int(major), int(minor), int(micro or 0),
            _PRE_RELEASE[pre] if pre else _FINAL, int(number or 0))


def installed_version() -> str | None:
    """The version of the Datasette importable here, or None without one."""
    try:
        from datasette.version import __version__
    except ImportError:
        return None
    return str(__version__)


DATASETTE_VERSION = installed_version()
# True under Datasette 1.0 (its alphas included): metadata, table settings and stored
# queries are written once at startup instead of answered per request.
DATASETTE_1 = DATASETTE_VERSION is not None and version_key(DATASETTE_VERSION)[0] >= 1


def supports_stored_queries(version: str | None = DATASETTE_VERSION) -> bool:
    """Whether this 1.0 alpha has the stored-query API the 1.0 path needs."""
    return version is not None and version_key(version) >= version_key(FIRST_SUPPORTED_1)
