"""Reports for people: a report's rows as a terminal table (rich), Markdown with links
to the pages, JSON or CSV. The rows themselves come from `read.reports`."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import quote

from .read.reports import REPORTS, Report, Row, Summary

FORMATS = ("table", "markdown", "json", "csv")

# From the reports' declarations (read.reports.REPORTS).
TITLES = {name: spec.title for name, spec in REPORTS.items()}
# Columns shown by table, markdown and csv, in order (json has every key).
COLUMNS = {name: spec.shown for name, spec in REPORTS.items() if spec.shown}
LIST_SHOWN = 5  # items of a list cell (referenced_by, top) shown by table and markdown
TABLE_DEFAULT_LIMIT = 25  # the CLI's default for --format table

def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if column != "betweenness" else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}" if column not in ("community", "rank") else str(value)
    if isinstance(value, list):
        more = f", … (+{len(value) - LIST_SHOWN:,})" if len(value) > LIST_SHOWN else ""
        return ", ".join(str(v) for v in value[:LIST_SHOWN]) + more
    return str(value)


def _csv(rows: list[Row], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    keys = list(columns) + [k for k in (rows[0] if rows else {}) if k not in columns]
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "; ".join(map(str, v)) if isinstance(v, list) else
                         ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def _summary_csv(data: Summary) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["section", "rank", "name", "path", "value"])
    for key, value in data["counts"].items():
        writer.writerow(["counts", "", key, "", value])
    for key, value in data["metrics"].items():
        writer.writerow(["metrics", "", key, "", "" if value is None else value])
    figures = {"central": "pagerank", "wanted": "references", "communities": "size",
               "single_source": "source"}
    for section, rows in data["top"].items():
        for rank, row in enumerate(rows, 1):
            writer.writerow([section, rank, row.get("title"), row.get("path", ""),
                             row.get(figures.get(section, ""), "")])
    return buf.getvalue()


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("[", "\\[") \
        .replace("]", "\\]").replace("\n", " ")


def _md_link(title: str, path: str, base: str) -> str:
    return f"[{_md_escape(title)}]({quote(base + path, safe='/')})"


def _md_pages(paths: list[str], base: str, most: int | None = None) -> str:
    """Links to pages named by their file name (no title at hand)."""
    shown = paths if most is None else paths[:most]
    text = ", ".join(_md_link(p.rpartition("/")[2].removesuffix(".md"), p, base) for p in shown)
    return text + (f", … (+{len(paths) - len(shown):,})" if len(shown) < len(paths) else "")


def _md_cell(row: Row, column: str, base: str) -> str:
    value = row.get(column)
    if column == "title" and row.get("path"):
        return _md_link(row["title"], row["path"], base)
    if column == "source_title" and row.get("source"):
        return _md_link(row["source_title"], row["source"], base)
    if column == "referenced_by":
        return _md_pages(value or [], base, LIST_SHOWN)
    if column == "target":
        return f"`{value}`".replace("|", "\\|")
    return _md_escape(_fmt(value, column))


def _md_table(rows: list[Row], columns: tuple[str, ...], base: str) -> str:
    shown = [c for c in columns if c not in ("path", "source")]
    head = [c.replace("_", " ") for c in shown]
    head = ["page" if c == "title" else "source" if c == "source_title" else c for c in head]
    numeric = {c for c in shown if rows and isinstance(rows[0].get(c), int | float)
               and not isinstance(rows[0].get(c), bool)}
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---:" if c in numeric else "---" for c in shown) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_md_cell(row, c, base) for c in shown) + " |")
    return "\n".join(lines)


METHODS = {"louvain": "Louvain", "label_propagation": "label propagation"}


def _pages(count: int) -> str:
    return f"{count:,} page{'' if count == 1 else 's'}"


def _md_summary(data: Summary, vault_name: str | None, base: str) -> str:
    from . import __version__

    c, top, metrics = data["counts"], data["top"], data["metrics"]
    name = vault_name or (data.get("vault") or "vault").rstrip("/").rpartition("/")[2]
    out = [f"# Vault report: {name}", ""]
    kind = f" (pages of kind `{data['kind']}`)" if data.get("kind") else ""
    out.append(f"Made by vaultsync {__version__} on {data['generated_at'][:10]} from the "
               f"mirror last synced {data.get('last_sync_at') or 'never'}{kind}. "
               "Links point to the pages in the vault.")
    out += ["", "| | count |", "|---|---:|"]
    labels = [
        ("pages", f"Pages ({c['sources']:,} sources)"),
        ("links", f"Links ({c['links_between_pages']:,} between pages, "
                  f"{c['unresolved']:,} unresolved)"),
        ("edges", "Edges: linked pairs of pages"),
        ("orphans", "Orphans: no other page links to them"),
        ("isolated", "Isolated: no links in or out"),
        ("dead_ends", "Dead ends: link to no other page"),
        ("single_source", "Single-source pages"),
        ("unsourced", "Unsourced pages"),
        ("wanted", "Wanted pages: missing link targets"),
        ("broken_anchors", "Broken anchors: links to a missing heading or block"),
        ("communities", "Communities of 2+ pages"),
    ]
    for key, label in labels:
        out.append(f"| {label} | {c[key]:,} |")

    def section(title: str, rows: list[Row], total: int, line: Any, note: str = "") -> None:
        out.extend(["", f"## {title}", ""])
        if note:
            out.extend([note, ""])
        if not rows:
            out.append("None.")
            return
        if total > len(rows):
            out.extend([f"The first {len(rows)} of {total:,}.", ""])
        out.extend(line(i, r) for i, r in enumerate(rows, 1))

    section("Most central pages", top["central"], c["central"],
            lambda i, r: f"{i}. {_md_link(r['title'], r['path'], base)}: PageRank "
                         f"{r['pagerank']:.4g}, linked from {_pages(r['in_degree'])}, "
                         f"{r['citation_count']:,} source{'' if r['citation_count'] == 1 else 's'}",
            "By PageRank over the links between pages; source pages are left out.")
    section("Orphans", top["orphans"], c["orphans"],
            lambda i, r: f"- {_md_link(r['title'], r['path'], base)}",
            "No other page links to these.")
    section("Single-source pages", top["single_source"], c["single_source"],
            lambda i, r: f"- {_md_link(r['title'], r['path'], base)}: only "
                         f"{_md_link(r['source_title'], r['source'], base)}",
            "Pages that rest on exactly one source.")
    section("Wanted pages", top["wanted"], c["wanted"],
            lambda i, r: f"{i}. `{r['target']}`: {_pages(r['references'])} "
                         f"({_md_pages(r['referenced_by'], base, 5)})",
            "Link targets no page or file answers, by how many pages link to them.")
    if top.get("communities"):
        method = metrics.get("community_method") or "?"
        q = metrics.get("community_modularity")
        section("Communities", top["communities"], c["communities"],
                lambda i, r: f"- {_pages(r['size'])} around "
                             f"{_md_link(r['title'], r['path'], base)}: "
                             + ", ".join(_md_escape(t) for t in r["top"][1:]),
                f"Found by {METHODS.get(method, method)}"
                + (f", modularity {q:.3f}." if q is not None else "."))
    out.extend(["", "## Definitions", "",
                "- *Orphan*: no link from another page. *Isolated*: no links in or out "
                "(Obsidian's graph-view orphan). *Dead end*: no link to another page.",
                "- *Citations*: distinct source pages linked to or from a page. "
                "*Single-source*: a non-source page with exactly one; *unsourced*: none.",
                "- Links to attachments, unresolved links and a page's links to itself "
                "do not count.", ""])
    return "\n".join(out)


HEADERS = {"in_degree": "in", "out_degree": "out", "citation_count": "sources",
           "references": "refs", "referenced_by": "referenced by", "source_title": "source",
           "source": "source path", "top": "top pages", "community": "#"}


# Columns a narrow terminal drops first, in this order, when truncating is not enough.
DROP_ORDER = ("kind", "source", "links", "sources", "out_degree", "citation_count",
              "in_degree", "path", "referenced_by", "top")
# Paths lose their start ("…/backpressure.md" keeps the file name); text loses its end.
_LEFT_CUT = frozenset({"path", "source"})
_LISTS = frozenset({"referenced_by", "top"})
_MIN_WIDTH = 10
_GAP = 2  # between columns


def _cut(text: str, width: int, column: str) -> str:
    if len(text) <= width:
        return text
    if column in _LEFT_CUT:
        return "…" + text[len(text) - width + 1:]
    return text[:width - 1] + "…"


def _cut_list(values: list[Any], width: int) -> str:
    """As many items as fit, then how many more: "a, b, … (+7)"."""
    items = [str(v) for v in values]
    for shown in range(min(len(items), LIST_SHOWN), 0, -1):
        more = len(items) - shown
        text = ", ".join(items[:shown]) + (f", … (+{more:,})" if more else "")
        if len(text) <= width:
            return text
    rest = f" (+{len(items) - 1:,})" if len(items) > 1 else ""
    return _cut(items[0] if items else "", max(width - len(rest), 1), "") + rest


def _layout(rows: list[Row], columns: tuple[str, ...], width: int,
            numeric: set[str]) -> dict[str, int]:
    """Column → width, so that a row is one line of `width` characters: text columns
    shrink (the widest first), and when even _MIN_WIDTH each does not fit, columns go
    in DROP_ORDER."""
    def natural(c: str) -> int:
        header = len(HEADERS.get(c, c.replace("_", " ")))
        return max([header, *(len(_fmt(r.get(c), c)) for r in rows)])

    shown = list(columns)
    widths = {c: natural(c) for c in shown}
    fixed = {c for c in shown if c in numeric or c in ("kind", "rank", "community")}
    for c in fixed & {"kind"}:
        widths[c] = min(widths[c], 12)
    while True:
        budget = width - _GAP * (len(shown) - 1)
        floor = sum(widths[c] if c in fixed else min(widths[c], _MIN_WIDTH) for c in shown)
        droppable = [c for c in DROP_ORDER if c in shown]
        if floor <= budget or not droppable:
            break
        shown.remove(droppable[0])
    out = {c: widths[c] for c in shown}
    flexible = [c for c in shown if c not in fixed]
    excess = sum(out.values()) - budget
    while excess > 0 and flexible:
        widest = max(flexible, key=lambda c: out[c])
        if out[widest] <= _MIN_WIDTH:
            break
        out[widest] -= 1
        excess -= 1
    return out


def _rich_table(rows: list[Row], columns: tuple[str, ...], title: str | None,
                width: int | None = None) -> Any:
    """A table whose rows are one line each within `width` columns (None: any width)."""
    from rich import box
    from rich.table import Table

    numeric = {c for c in columns if rows and isinstance(rows[0].get(c), int | float)
               and not isinstance(rows[0].get(c), bool)}
    widths = _layout(rows, columns, width, numeric) if width else {c: 0 for c in columns}
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1, 0, 0))
    for c in widths:
        table.add_column(HEADERS.get(c, c.replace("_", " ")), no_wrap=True,
                         justify="right" if c in numeric else "left",
                         width=widths[c] or None, overflow="ellipsis")
    for row in rows:
        cells = []
        for c, w in widths.items():
            value = row.get(c)
            if w and c in _LISTS and isinstance(value, list):
                cells.append(_cut_list(value, w))
            else:
                text = _fmt(value, c)
                cells.append(_cut(text, w, c) if w else text)
        table.add_row(*cells)
    return table


def _table(report: Report, vault_name: str | None, width: int | None) -> str:
    import shutil

    from rich.console import Console

    width = width or shutil.get_terminal_size((100, 24)).columns
    buffer = io.StringIO()
    console = Console(file=buffer, width=max(width, 40), color_system=None,
                      force_terminal=False, legacy_windows=False, emoji=False,
                      highlight=False)
    suffix = f" · {vault_name}" if vault_name else ""
    if report.summary is not None:
        from rich import box
        from rich.table import Table

        data = report.summary
        counts = Table(title=f"Summary{suffix}", title_justify="left", box=box.SIMPLE_HEAD,
                       show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
        counts.add_column("count")
        counts.add_column("value", justify="right")
        for key, value in data["counts"].items():
            counts.add_row(key.replace("_", " "), _fmt(value, key))
        console.print(counts)
        for section, name in (("central", "central"), ("orphans", "orphans"),
                              ("single_source", "single-source"), ("wanted", "wanted"),
                              ("communities", "communities")):
            if data["top"].get(section):
                console.print()
                console.print(_rich_table(data["top"][section], COLUMNS[name], TITLES[name],
                                          console.width))
    else:
        rows, name = report.rows, report.name
        console.print(_rich_table(rows, COLUMNS[name], TITLES[name] + suffix, console.width))
        if report.total > len(rows):
            console.print(f"{len(rows)} of {report.total:,} rows; --limit 0 shows all")
        elif not rows:
            console.print("none")
    return buffer.getvalue()


def render(report: Report, fmt: str, *, vault_name: str | None = None,
           link_base: str = "", width: int | None = None) -> str:
    """A report as `fmt`: table (rich, `width` or the terminal's), markdown (page links
    are relative Markdown links: `link_base` + the vault path), json or csv. The table
    and Markdown say so when `report.total` is more than the rows shown."""
    name, rows, total = report.name, report.rows, report.total
    if fmt == "json":
        return json.dumps(report.json(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        if report.summary is not None:
            return _summary_csv(report.summary)
        return _csv(rows, COLUMNS[name])
    if fmt == "markdown":
        if report.summary is not None:
            return _md_summary(report.summary, vault_name, link_base)
        suffix = f" ({vault_name})" if vault_name else ""
        body = _md_table(rows, COLUMNS[name], link_base) if rows else "None."
        more = f"\n\nThe first {len(rows)} of {total:,}." if total > len(rows) else ""
        return f"## {TITLES[name]}{suffix}\n\n{body}{more}\n"
    if fmt == "table":
        return _table(report, vault_name, width)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
