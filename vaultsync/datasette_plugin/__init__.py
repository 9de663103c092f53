"""vaultsync's Datasette plugin: a vaultsync mirror opened in Datasette looks designed.

Enabled through the `datasette` entry point when vaultsync and Datasette share an
environment (`vaultsync datasette` also registers it explicitly). It

- supplies the mirror's metadata: descriptions, facets, `label_column`, full-text search,
  canned queries. It applies to every attached database that *is* a vaultsync mirror,
  whatever its name (the file stem, e.g. `vault-1a2b3c4d5e`): each database file is
  probed once per Datasette instance (one read-only look at its schema) and remembered.
  Under Datasette 0.6x through the `get_metadata` hook; under Datasette 1.0, which removed
  that hook, once at startup into its metadata, configuration and stored queries
  (`datasette1`). The metadata and configuration the user gives Datasette override it
  key by key;
- adds `/-/vaultsync/page?path=<page path>` (and `.json`): one page's card with links
  to its backlinks, its row and, while `vaultsync serve` runs for the mirror (or
  plugins.vaultsync.graph_url is set), its graph view;
- links `path`-like cells of page paths to that card, shows search snippets with
  their highlights and graph figures rounded (the full value in the cell's tooltip).
  Per cell that is a string comparison and a dict lookup, no query;
- folds the column notes of a mirror's tables into a "Column notes" disclosure and
  keeps page bodies and frontmatter to one line per row, so the rows come first;
- under `vaultsync datasette`, names the mirror's database after its vault folder;
- bounds what a query on a mirror may take: SQLite refuses any string or BLOB over
  16 MiB on the connections Datasette opens to a mirror (`prepare_connection`), one
  query's rows may hold at most ROWS_BYTES of text and BLOBs, and Datasette's own time
  limit (`sql_time_limit_ms`) is also enforced by wall clock, from
  a timer, for those connections: Datasette looks at the clock every 1,000 SQLite steps,
  and a few steps of large values can take seconds.

Nothing here imports Datasette at module level beyond `hookimpl` and its version, and
`metadata_for` works without Datasette installed.
"""

from __future__ import annotations

import sqlite3
import sys
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .card import PAGE_ROUTE, PLUGIN_NAME, graph_url, page_url, page_view
from .compat import DATASETTE_1, DATASETTE_VERSION, FIRST_SUPPORTED_1, supports_stored_queries
from .metadata import (
    INSTANCE_METADATA,
    STATIC_DB_NAME,
    config_for,
    database_metadata,
    metadata_for,
)

if TYPE_CHECKING:
    from markupsafe import Markup

try:
    from datasette import hookimpl as _datasette_hookimpl
except ImportError:  # Datasette not installed: the metadata helpers still work
    _datasette_hookimpl = None

_Hook = TypeVar("_Hook", bound=Callable[..., Any])


def hookimpl(func: _Hook) -> _Hook:
    """Datasette's hook marker, keeping the hook's signature for type checkers."""
    return func if _datasette_hookimpl is None else cast(_Hook, _datasette_hookimpl(func))


__all__ = [
    "CONFIG_PATH", "DATABASE_NAMES", "DATASETTE_1", "METADATA_PATH", "PAGE_ROUTE",
    "PLUGIN_NAME",
    "STATIC_DB_NAME", "config_for", "database_metadata", "ensure_registered",
    "is_mirror_file", "metadata_for",
]

# Static metadata for `datasette mirror.db --metadata metadata.json` (database "mirror"),
# and for Datasette 1.0 the configuration beside it: `--config datasette.json`.
METADATA_PATH = Path(__file__).with_name("metadata.json")
CONFIG_PATH = Path(__file__).with_name("datasette.json")
_PATH_COLUMNS = frozenset({"path", "source_path", "target_path"})
_MIRROR_TABLES = ("pages", "pages_fts", "links", "page_metrics", "meta")
_ROUNDED_COLUMNS = frozenset({"pagerank", "betweenness"})
# Mirror file (resolved path) → the database name to give it, set by `vaultsync datasette`
# before Datasette starts (Datasette would name it after the file: vault-2e722d3d70).
DATABASE_NAMES: dict[str, str] = {}


def is_mirror_file(path: str | Path) -> str | None:
    """The vault path recorded in a vaultsync mirror ('' if none yet), or None when the
    file is not a vaultsync mirror (or cannot be read)."""
    try:
        conn = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True,
                               timeout=1.0)
    except sqlite3.Error:
        return None
    try:
        marks = ",".join("?" * len(_MIRROR_TABLES))
        found = conn.execute(
            f"SELECT count(*) FROM sqlite_master WHERE name IN ({marks})", _MIRROR_TABLES
        ).fetchone()[0]
        if found != len(_MIRROR_TABLES):
            return None
        row = conn.execute("SELECT value FROM meta WHERE key = 'vault'").fetchone()
        return (row[0] or "") if row else ""
    except sqlite3.Error:
        return None
    finally:
        conn.close()


# Per Datasette instance: database name → (file path, vault label or None if not a mirror).
_probed: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, str | None]]] = (
    weakref.WeakKeyDictionary()
)
# vault label → that mirror's database metadata, built once, copied per call.
_db_metadata: dict[str, dict[str, Any]] = {}


def _mirror_label(datasette: Any, name: str) -> str | None:
    """The vault label of database `name` if it is a vaultsync mirror, else None."""
    db = datasette.databases.get(name)
    if db is None or name.startswith("_") or db.is_memory or not db.path:
        return None
    seen = _probed.setdefault(datasette, {})
    path = str(db.path)
    hit = seen.get(name)
    if hit is None or hit[0] != path:
        vault = is_mirror_file(path)
        hit = seen[name] = (path, None if vault is None else Path(vault).name if vault else "")
    return hit[1]


def _mirrors(datasette: Any) -> dict[str, str]:
    """Database name → vault label of every attached mirror."""
    out = {}
    for name in list(datasette.databases):
        label = _mirror_label(datasette, name)
        if label is not None:
            out[name] = label
    return out


def _copy(value: Any) -> Any:
    """A copy of JSON-like data (Datasette merges into what hooks return)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def ensure_registered() -> None:
    """Register this plugin with Datasette unless its entry point already did."""
    import sys

    from datasette.plugins import pm

    module = sys.modules[__name__]
    if not pm.is_registered(module) and pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(module, name=PLUGIN_NAME)


# --- hooks -------------------------------------------------------------------------


def _only_mirrors(datasette: Any, mirrors: dict[str, str]) -> bool:
    """Whether every user database is a mirror: then the instance is vaultsync's and gets
    its title."""
    return all(n in mirrors for n in datasette.databases if not n.startswith("_"))


if not DATASETTE_1:  # Datasette 1.0 has no such hook: see `startup`

    @hookimpl
    def get_metadata(datasette: Any, key: str | None, database: str | None,
                     table: str | None) -> dict[str, Any] | None:
        # Called a few dozen times per request: answer only what `key` asks for, and copy
        # only what Datasette may merge into (it mutates what hooks return).
        mirrors = _mirrors(datasette)
        if not mirrors:
            return None
        names = list(mirrors) if database is None else [database] if database in mirrors \
            else []
        out: dict[str, Any] = {}
        if names:
            out["databases"] = {n: _db_part(mirrors[n], key, table) for n in names}
        if _only_mirrors(datasette, mirrors):
            for k, v in INSTANCE_METADATA.items():
                if key is None or key == k:
                    out[k] = v
        return out


def _db_part(label: str, key: str | None, table: str | None) -> dict[str, Any]:
    """The database's metadata, or only `key` at database and table level."""
    if label not in _db_metadata:
        _db_metadata[label] = database_metadata(label or None)
    full = _db_metadata[label]
    if key is None or key == "databases":
        return cast(dict[str, Any], _copy(full))
    part = {key: _copy(full[key])} if key in full else {}
    table_part = full["tables"].get(table) if table is not None else None
    if table_part is not None and key in table_part and key != "tables":
        part.setdefault("tables", {})[table] = {key: _copy(table_part[key])}
    return part


# The most text and BLOB bytes the rows of one query on a mirror may hold: Datasette
# renders what it fetches many times over, so this, not the row count, bounds its memory.
ROWS_BYTES = 32 * 1024 * 1024
# Bytes fetched so far per cursor of a mirror's connection.
_fetched: weakref.WeakKeyDictionary[sqlite3.Cursor, int] = weakref.WeakKeyDictionary()


def _bounded_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> sqlite3.Row:
    """Datasette's row (sqlite3.Row), refused once a query's rows outgrow ROWS_BYTES."""
    size = sum(len(v) for v in values if isinstance(v, str | bytes))
    total = _fetched.get(cursor, 0) + size
    if total > ROWS_BYTES:
        raise sqlite3.DataError(f"the rows of this query hold more than "
                                f"{ROWS_BYTES // 1024 // 1024} MiB of text and BLOBs; "
                                "select fewer rows or columns, or substr() / length()")
    _fetched[cursor] = total
    return sqlite3.Row(cursor, values)


# Connections to a mirror (by id: sqlite3 connections take no weak references) whose
# queries get a wall-clock time limit.
_bounded: set[int] = set()


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str, datasette: Any) -> None:
    if _mirror_label(datasette, database) is None:
        return
    from ..read import limit_value_size

    limit_value_size(conn)
    conn.row_factory = _bounded_row
    _bounded.add(id(conn))
    _enforce_time_limit_by_clock()


def _enforce_time_limit_by_clock() -> None:
    """Make Datasette's per-query time limit also interrupt a mirror's connection from a
    timer at the same deadline (once per process)."""
    import contextlib

    import datasette.database as database_module

    original = database_module.sqlite_timelimit
    if getattr(original, "vaultsync", False):
        return

    @contextlib.contextmanager
    def sqlite_timelimit(conn: sqlite3.Connection, ms: int) -> Any:
        with original(conn, ms):
            if id(conn) not in _bounded:
                yield
                return
            from ..read import interrupt_after

            with interrupt_after(conn, ms / 1000):
                yield

    sqlite_timelimit.vaultsync = True  # type: ignore[attr-defined]
    database_module.sqlite_timelimit = sqlite_timelimit


@hookimpl
def startup(datasette: Any) -> Awaitable[None] | None:
    _rename_databases(datasette)
    if not DATASETTE_1:
        return None
    return _startup_1(datasette)


def _rename_databases(datasette: Any) -> None:
    """Give each mirror the name `vaultsync datasette` chose for it (DATABASE_NAMES)."""
    if not DATABASE_NAMES:
        return
    for name, db in list(datasette.databases.items()):
        wanted = DATABASE_NAMES.get(str(Path(db.path).resolve())) if db.path else None
        if wanted and wanted != name and wanted not in datasette.databases:
            renamed = db
            if DATASETTE_1:
                # 1.0's remove_database closes the database: attach its file anew.
                from datasette.database import Database

                renamed = Database(datasette, path=db.path, is_mutable=db.is_mutable,
                                   mode=db.mode)
            datasette.remove_database(name)
            datasette.add_database(renamed, name=wanted)


async def _startup_1(datasette: Any) -> None:
    from . import datasette1

    mirrors = _mirrors(datasette)
    if not mirrors:
        return
    if not supports_stored_queries():
        print(f"vaultsync: Datasette {DATASETTE_VERSION} predates {FIRST_SUPPORTED_1}; the "
              "mirror's descriptions, table settings and canned queries are left out "
              f"(pip install 'datasette>={FIRST_SUPPORTED_1}')", file=sys.stderr)
        return
    await datasette1.supply(datasette, mirrors, instance=_only_mirrors(datasette, mirrors))


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str,
                datasette: Any) -> Markup | None:
    if column in _ROUNDED_COLUMNS and isinstance(value, float):
        if _mirror_label(datasette, database) is None:
            return None
        from markupsafe import Markup

        return Markup(f'<span title="{value!r}">{value:.5f}</span>')
    if column in _PATH_COLUMNS:
        if not isinstance(value, str) or not value.lower().endswith(".md"):
            return None
        if _mirror_label(datasette, database) is None:
            return None
        from markupsafe import Markup, escape

        url = page_url(datasette, database, value)
        return Markup(f'<a href="{escape(url)}" title="graph view and backlinks">'
                      f"{escape(value)}</a>")
    if column == "snippet" and table is None and isinstance(value, str) and "<mark>" in value:
        if _mirror_label(datasette, database) is None:
            return None
        from markupsafe import Markup, escape

        return Markup(str(escape(value)).replace("&lt;mark&gt;", "<mark>")
                      .replace("&lt;/mark&gt;", "</mark>"))
    return None


@hookimpl
def table_actions(datasette: Any, database: str, table: str) -> list[dict[str, str]] | None:
    if table != "pages" or _mirror_label(datasette, database) is None:
        return None
    actions = [{"href": datasette.urls.database(database) + "/search",
                "label": "Full-text search (vaultsync)"}]
    graph = graph_url(datasette, database)
    if graph is not None:
        actions.append({"href": graph, "label": "Graph view (vaultsync serve)"})
    return actions


# Datasette lists a table's column notes above its rows; fold them into a disclosure.
# Long text cells (page bodies, frontmatter) keep to one line in table views; the row's
# own page still shows them whole.
_TABLE_SCRIPT = """
const style = document.createElement("style");
style.textContent = `.rows-and-columns td.col-body, .rows-and-columns td.col-frontmatter {
  white-space: nowrap; max-width: 22em; overflow: hidden; text-overflow: ellipsis; }`;
document.head.append(style);
document.querySelectorAll("dl.column-descriptions").forEach((dl) => {
  const details = document.createElement("details");
  details.className = "vaultsync-column-notes";
  const summary = document.createElement("summary");
  summary.textContent = "Column notes (" + dl.querySelectorAll("dt").length + ")";
  dl.replaceWith(details);
  details.append(summary, dl);
});
"""


@hookimpl
def extra_body_script(view_name: str, database: str | None, table: str | None,
                      datasette: Any) -> str | None:
    if view_name != "table" or database is None or \
            _mirror_label(datasette, database) is None:
        return None
    return _TABLE_SCRIPT


@hookimpl
def register_routes() -> list[tuple[str, Callable[..., Awaitable[Any]]]]:
    return [(r"^/-/vaultsync/page(?P<format>\.json)?$", page_view)]
