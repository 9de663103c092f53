"""Reports and the other answers as text and tables: CSV and Markdown (with links to the
pages), JSON, plain rows and a pandas DataFrame. Pure functions of the answers; the
terminal table (rich) is render.py's, one layer up."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from .reports import Report, Summary

Row = dict[str, Any]

LIST_SHOWN = 5  # items of a list cell (referenced_by, top) shown by table and markdown


def cell_text(value: Any, column: str = "") -> str:
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


def csv_table(rows: list[Row], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    keys = list(columns) + [k for k in (rows[0] if rows else {}) if k not in columns]
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "; ".join(map(str, v)) if isinstance(v, list) else
                         ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def summary_csv(data: Summary) -> str:
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
    return _md_escape(cell_text(value, column))


def markdown_table(rows: list[Row], columns: tuple[str, ...], base: str) -> str:
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


def summary_markdown(data: Summary, vault_name: str | None, base: str) -> str:
    from .. import __version__

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


# --- a report ----------------------------------------------------------------------------

def report_markdown(report: Report, *, vault_name: str | None = None,
                    link_base: str = "") -> str:
    """A report as Markdown: a table under its title (summary: the report to share);
    pages are relative links, `link_base` + their vault path."""
    if report.summary is not None:
        return summary_markdown(report.summary, vault_name, link_base)
    rows, total, spec = report.rows, report.total, report.spec
    suffix = f" ({vault_name})" if vault_name else ""
    body = markdown_table(rows, spec.shown, link_base) if rows else "None."
    more = f"\n\nThe first {len(rows)} of {total:,}." if total > len(rows) else ""
    return f"## {spec.title}{suffix}\n\n{body}{more}\n"


def report_csv(report: Report) -> str:
    """A report as CSV: the declared columns first (summary: section, rank, name, path,
    value)."""
    if report.summary is not None:
        return summary_csv(report.summary)
    return csv_table(report.rows, report.spec.shown)


# --- any answer ----------------------------------------------------------------------------

# The rows of an answer by default: its list of records.
_DEFAULT_PART = {"graph": "nodes", "search": "results"}


def _answer_kind(answer: Mapping[str, Any]) -> str:
    if "nodes" in answer and "links" in answer:
        return "graph"  # Vault.graph and Vault.neighbors
    if "results" in answer and "query" in answer:
        return "search"
    if "counts" in answer and "mirror" in answer:
        return "status"
    if "path" in answer and "metrics" in answer:
        return "page"
    raise TypeError("not an answer of vaultsync.Vault: expected a page, a search, a graph, "
                    "a neighbourhood, a status or a Report")


def _flat(prefix: str, value: Mapping[str, Any]) -> Row:
    """Nested records as prefixed columns (`metrics.pagerank`); lists are left out."""
    row: Row = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            row.update(_flat(name + ".", item))
        elif not isinstance(item, list):
            row[name] = item
    return row


def to_rows(answer: Report | Mapping[str, Any], part: str | None = None) -> list[Row]:
    """An answer as a list of flat rows. A Report: its rows. A graph or a neighbourhood:
    its nodes (`part="links"`: its links). A search: its hits. A page: one row of its
    fields and metrics (`part=` one of its lists: "links", "backlinks", "headings",
    "tasks", "problems", ...). A status: one row of its counts, mirror and daemon."""
    from .reports import Report

    if isinstance(answer, Report):
        return answer.to_rows()
    kind = _answer_kind(answer)
    part = part or _DEFAULT_PART.get(kind)
    if part is None:
        return [_flat("", answer)]
    items = answer.get(part)
    if not isinstance(items, list):
        lists = sorted(k for k, v in answer.items() if isinstance(v, list))
        raise ValueError(f"no list {part!r} in this {kind}; choose from {', '.join(lists)}")
    return [_flat("", item) if isinstance(item, Mapping) else {"value": item}
            for item in items]


def to_json(answer: Report | Mapping[str, Any], *, indent: int | None = 2) -> str:
    """An answer as JSON (the HTTP API's shape)."""
    from .reports import Report

    data = answer.json() if isinstance(answer, Report) else answer
    return json.dumps(data, indent=indent, ensure_ascii=False)


def to_csv(answer: Report | Mapping[str, Any], part: str | None = None) -> str:
    """`to_rows(answer, part)` as CSV (a Report: `report_csv`)."""
    from .reports import Report

    if isinstance(answer, Report):
        return report_csv(answer)
    return csv_table(to_rows(answer, part), ())


def to_dataframe(answer: Report | Mapping[str, Any], part: str | None = None) -> Any:
    """`to_rows(answer, part)` as a pandas DataFrame (pandas is not installed with
    vaultsync: `pip install pandas`)."""
    try:
        import pandas
    except ImportError:
        raise ImportError("to_dataframe needs pandas: pip install pandas") from None
    from .reports import Report

    if isinstance(answer, Report):
        columns = list(answer.spec.column_names) if answer.summary is None else \
            ["count", "value"]
        return pandas.DataFrame(answer.to_rows(), columns=columns)
    return pandas.DataFrame(to_rows(answer, part))
