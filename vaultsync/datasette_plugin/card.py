"""The plugin's page card (`/-/vaultsync/page?database=…&path=…`, and `.json`): one
page of a mirror from the read layer's typed record (read.page), with links to its
backlinks, its row, its outgoing links and the graph view."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from .compat import DATASETTE_1
from .metadata import BACKLINKS_QUERY, CITING_QUERY

if TYPE_CHECKING:
    from ..read.answers import Page

PLUGIN_NAME = "vaultsync"
PAGE_ROUTE = "/-/vaultsync/page"


def page_url(datasette: Any, database: str, path: str) -> str:
    """The plugin page of one mirror page."""
    return (f"{datasette.urls.path(PAGE_ROUTE)}?database={quote(database, safe='')}"
            f"&path={quote(path, safe='/')}")


def graph_url(datasette: Any, database: str, path: str | None = None) -> str | None:
    """The graph view (of page `path`): plugins.vaultsync.graph_url if set, else the
    running `vaultsync serve` of this mirror, else None (no link)."""
    from ..server.address import running_url

    config = datasette.plugin_config(PLUGIN_NAME, database=database) or {}
    db = datasette.databases.get(database)
    base = config.get("graph_url") or (running_url(Path(db.path)) if db and db.path else None)
    if not base:
        return None
    base = str(base)
    if path is None:
        return base
    return base + ("&" if "?" in base else "?") + urlencode({"path": path})


def _page_data(conn: sqlite3.Connection, path: str) -> dict[str, Any] | None:
    """Everything the card shows, read in one transaction: one consistent snapshot even
    while the daemon commits batches."""
    from .. import read

    with read.snapshot(conn):
        try:
            page_id, real_path = read.page_id(conn, path)
            return page_card(page_id, read.page(conn, real_path))
        except read.NotFound:
            return None


def page_card(page_id: int, page: Page) -> dict[str, Any]:
    """The card's view of the read layer's page record: links grouped by page."""

    def by_page(links: list[tuple[str, str]]) -> list[dict[str, Any]]:
        counts: dict[tuple[str, str], int] = {}
        for key in links:
            counts[key] = counts.get(key, 0) + 1
        return [{"path": p, "title": t, "links": n} for (p, t), n in sorted(counts.items())]

    path = page["path"]
    metrics = page["metrics"]
    citations = page["citations"]["cited_by" if page["is_source"] else "sources"]
    return {
        "id": page_id, "path": path, "title": page["title"], "kind": page["kind"],
        "is_source": page["is_source"], "folder": page["folder"], "tags": page["tags"],
        "aliases": page["aliases"],
        "backlinks": by_page([(b["path"], b["title"]) for b in page["backlinks"]]),
        "links_to": by_page([(link["target_path"], link["target_title"] or "")
                             for link in page["links"] if link["target_type"] == "page"
                             and link["target_path"] is not None
                             and link["target_path"] != path]),
        "unresolved_links": sum(not link["resolved"] for link in page["links"]),
        "citations": [{"path": c["path"], "title": c["title"]} for c in citations],
        "metrics": None if metrics["computed_at"] is None else {
            "in_degree": metrics["in_degree"], "out_degree": metrics["out_degree"],
            "pagerank": metrics["pagerank"], "betweenness": metrics["betweenness"],
            "community": metrics["community"], "component": metrics["component"],
            "citation_count": metrics["citation_count"],
            "computed_at": metrics["computed_at"]},
    }


async def page_view(datasette: Any, request: Any) -> Any:
    from datasette.utils.asgi import Response

    as_json = bool(request.url_vars.get("format"))
    from . import _mirrors

    mirrors = _mirrors(datasette)
    database = request.args.get("database") or next(iter(mirrors), None)
    path = (request.args.get("path") or "").strip().lstrip("/")

    def error(message: str, status: int) -> Any:
        if as_json:
            return Response.json({"ok": False, "error": message}, status=status)
        return Response.html(f"<p>{_escape(message)}</p>", status=status)

    if database is None or database not in mirrors:
        return error("no vaultsync mirror is attached to this Datasette"
                     if database is None else f"{database} is not a vaultsync mirror", 404)
    if DATASETTE_1:
        from datasette.resources import TableResource

        # 1.0 resolves the database and instance rules behind a table's own.
        await datasette.ensure_permission(
            action="view-table", resource=TableResource(database=database, table="pages"),
            actor=request.actor)
    else:
        await datasette.ensure_permissions(request.actor, [
            ("view-table", (database, "pages")), ("view-database", database),
            "view-instance"])
    page = None
    if path:
        page = await datasette.databases[database].execute_fn(
            lambda conn: _page_data(conn, path))
        if page is None:
            return error(f"no page {path} in {database}", 404)
    if as_json:
        if page is None:
            return error("give ?path=<vault-relative page path>", 400)
        return Response.json({"ok": True, "database": database, "page": page,
                              "links": _links(datasette, database, page)})
    return Response.html(await datasette.render_template(
        "vaultsync_page.html",
        {"database": database, "path": path, "page": page,
         "links": _links(datasette, database, page) if page else {},
         "page_url": lambda p: page_url(datasette, database, p)},
        request=request,
    ))


def _links(datasette: Any, database: str, page: dict[str, Any]) -> dict[str, str]:
    db_url = datasette.urls.database(database)
    links = {
        "backlinks": f"{db_url}/{BACKLINKS_QUERY}?" + urlencode({"path": page["path"]}),
        "row": datasette.urls.row(database, "pages", str(page["id"])),
        "outgoing": datasette.urls.table(database, "links") + "?" + urlencode(
            {"source_id": page["id"]}),
    }
    graph = graph_url(datasette, database, page["path"])
    if graph is not None:
        links["graph"] = graph
    if page["is_source"]:
        links["citing"] = f"{db_url}/{CITING_QUERY}?" + urlencode({"source": page["path"]})
    return links


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))
