"""The mirror's metadata, table settings and canned queries the way Datasette 1.0 takes them.

Datasette 1.0 has no `get_metadata` hook. It keeps descriptions and titles in its internal
database, table settings (facets, sort, label_column, full-text search, hidden) in its
configuration, and canned queries as stored queries in its internal database; a plugin
fills them from its `startup` hook. That runs after Datasette has applied the user's
--metadata and --config (datasette.yaml), so what the user gave wins key by key, as a
--metadata file does under 0.6x:

- metadata: a key already set is left alone (with a persistent --internal database that
  includes values an earlier run or an editing plugin wrote);
- table settings: merged into `datasette.config` under the user's own;
- stored queries: added as trusted queries of source "vaultsync" (they run with
  view-query alone, like canned queries in configuration, and are not editable in the
  UI), replacing this plugin's earlier ones but never a query of the same name from
  elsewhere.

Datasette reads all of these per request, so nothing here runs after startup: a database
attached later at run time gets none of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .metadata import INSTANCE_METADATA, database_config, database_metadata

SOURCE = "vaultsync"  # the stored queries' source, as Datasette's query list shows it


async def supply(datasette: Any, mirrors: Mapping[str, str], *, instance: bool) -> None:
    """Give Datasette the metadata of each mirror (database name → vault label), and the
    instance's title and description when `instance` is set."""
    for name, label in mirrors.items():
        await _supply_database(datasette, name, database_metadata(label or None))
    if instance:
        present = await datasette.get_instance_metadata()
        for key, value in INSTANCE_METADATA.items():
            if key not in present:
                await datasette.set_instance_metadata(key, value)


async def _supply_database(datasette: Any, name: str, metadata: dict[str, Any]) -> None:
    tables_config = _child(_child(_child(datasette.config, "databases"), name), "tables")
    for table, ours in database_config()["tables"].items():
        settings = _child(tables_config, table)
        for key, value in ours.items():
            settings.setdefault(key, value)
    # About 110 small reads and as many writes of Datasette's internal database: some
    # 70 ms once per start (issuing them together with asyncio.gather measured no faster).
    present = await datasette.get_database_metadata(name)
    for key in ("title", "description"):
        if key not in present:
            await datasette.set_database_metadata(name, key, metadata[key])
    for table, spec in metadata["tables"].items():
        if "description" in spec and \
                "description" not in await datasette.get_resource_metadata(name, table):
            await datasette.set_resource_metadata(name, table, "description",
                                                  spec["description"])
        for column, text in spec.get("columns", {}).items():
            if "description" not in await datasette.get_column_metadata(name, table, column):
                await datasette.set_column_metadata(name, table, column, "description", text)
    for query_name, query in metadata["queries"].items():
        existing = await datasette.get_query(name, query_name)
        if existing is not None and existing.source != SOURCE:
            continue  # the user's own query of that name
        await datasette.add_query(name, query_name, query["sql"], title=query["title"],
                                  description=query["description"], is_trusted=True,
                                  source=SOURCE)


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """parent[key] as a dict, made one if it is missing or empty (a bare `tables:` in
    YAML is None)."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value
