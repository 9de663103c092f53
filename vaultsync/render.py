"""Reports for people: a report's rows as a terminal table (rich), or as the read
layer's Markdown, JSON or CSV (read.formats). The rows themselves come from
`read.reports`."""

from __future__ import annotations

import io
from typing import Any

from .read.formats import LIST_SHOWN, Row, cell_text, report_csv, report_markdown
from .read.reports import REPORTS, Report

FORMATS = ("table", "markdown", "json", "csv")

# From the reports' declarations (read.reports.REPORTS).
TITLES = {name: spec.title for name, spec in REPORTS.items()}
# Columns shown by table, markdown and csv, in order (json has every key).
COLUMNS = {name: spec.shown for name, spec in REPORTS.items() if spec.shown}
TABLE_DEFAULT_LIMIT = 25  # the CLI's default for --format table

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
        return max([header, *(len(cell_text(r.get(c), c)) for r in rows)])

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
                text = cell_text(value, c)
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
            counts.add_row(key.replace("_", " "), cell_text(value, key))
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
    if fmt == "json":
        return report.to_json() + "\n"
    if fmt == "csv":
        return report_csv(report)
    if fmt == "markdown":
        return report_markdown(report, vault_name=vault_name, link_base=link_base)
    if fmt == "table":
        return _table(report, vault_name, width)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
