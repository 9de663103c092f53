"""Page text → records. Pure: no file system, no SQL.

The body is scanned once to blank out everything that can never hold a link
(code, comments, math), keeping every character's offset, so that the link,
tag and heading patterns run over the result and report true line numbers.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote

import frontmatter
import yaml

try:  # PyYAML's C loader is 3-4x faster; fall back quietly where libyaml is missing.
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


# Small records are NamedTuples: they pickle fast between the parsing processes
# and the writer, and go straight into executemany.
class Link(NamedTuple):
    """One link to a page or file of the vault, as written."""

    target: str  # decoded, without #anchor or |display; "" for a link to the page itself
    anchor: str | None
    display: str | None
    embed: bool
    line: int  # 1-based, in the raw file
    form: str  # "wikilink", "markdown" or "frontmatter"
    relative: bool = False  # a Markdown/wiki path starting with ./ or ../


class ExternalLink(NamedTuple):
    url: str
    line: int
    display: str | None = None


class Heading(NamedTuple):
    level: int
    text: str
    line: int


class Problem(NamedTuple):
    line: int | None
    message: str
    severity: str = "warning"


@dataclass
class ParsedPage:
    title: str
    kind: str | None
    is_source: bool
    frontmatter: dict[str, Any]
    body: str
    tags: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    external_links: list[ExternalLink] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """What the parser needs to know about the vault's conventions."""

    source_folders: tuple[str, ...] = ("sources",)
    source_types: tuple[str, ...] = ("source",)
    # Top folder → kind; a folder not named here gives its name without a plural "s".
    folder_kinds: tuple[tuple[str, str], ...] = ()


DEFAULT_OPTIONS = ParseOptions()


class FastYAMLHandler(frontmatter.YAMLHandler):
    """python-frontmatter's YAML handler, on PyYAML's C loader where present."""

    def load(self, fm: str, **kwargs: object) -> Any:
        return yaml.load(fm, Loader=_SafeLoader)  # noqa: S506 - a safe loader


YAML_HANDLER = FastYAMLHandler()

# --- frontmatter -----------------------------------------------------------

_FM_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)


def split_frontmatter(text: str) -> tuple[str | None, int, int]:
    """Find a YAML block at the very top: (yaml text or None, body offset, body's first line)."""
    if not YAML_HANDLER.detect(text) or not re.match(r"---[ \t]*\r?\n", text):
        return None, 0, 1
    first_nl = text.index("\n") + 1
    close = _FM_CLOSE.search(text, first_nl)
    if close is None:
        return None, 0, 1
    fm = text[first_nl : close.start()]
    end = close.end()
    if end < len(text) and text[end] == "\n":
        end += 1
    return fm, end, text.count("\n", 0, end) + 1


def _jsonable(value: Any) -> Any:
    """YAML gives dates, sets and non-string keys; JSON takes none of them."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.date | _dt.datetime | _dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# --- masking: what can never hold a link ----------------------------------

_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_LIST_ITEM = re.compile(r"^( {0,3})([-+*]|\d{1,9}[.)])([ \t]*)(?=\S|$)")
_BLOCK_MATH = re.compile(r"^\s*\$\$")
_BLOCK_END = re.compile(r"#{1,6}(?:[ \t]|$)|([-*_])[ \t]*(?:\1[ \t]*){2,}$")
# Leftmost wins, as when a Markdown renderer reads left to right. Every alternative
# starts with a literal so the engine skips ahead by character set.
_INLINE_MASK = re.compile(
    r"\\[\\`$]"  # an escaped backtick or dollar opens nothing: kept as is
    r"|<!--(?:-?>|.*?(?:-->|\Z))"  # HTML comment (`<!-->` is one; an unclosed one runs on)
    r"|%%.*?(?:%%|\Z)"  # Obsidian comment
    # A code span or display math ends with its paragraph: never across a blank line.
    r"|`(?<!``)(?P<run>`*)(?!`)(?:[^\n]|\n(?![ \t]*\n))+?(?<!`)`(?P=run)(?!`)"
    r"|\$\$(?:[^\n]|\n(?![ \t]*\n))+?\$\$"  # display math within a paragraph
    r"|\$(?=[^\s$])[^$\n]*?(?<=[^\s\\])\$(?!\d)",  # inline math
    re.DOTALL,
)
_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank(text: str) -> str:
    return _NOT_NEWLINE.sub(" ", text)


def _indent_width(line: str) -> int:
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def mask_body(body: str) -> str:
    """Return `body` with code, comments and math blanked; offsets and newlines kept."""
    if not any(c in body for c in "`~$<%") and "    " not in body and "\t" not in body:
        return body  # nothing to blank: the common fast path
    lines = body.split("\n")
    out: list[str] = []
    fence: tuple[str, int] | None = None
    in_math = False
    prev_blank = True
    code_min = 0  # in an indented code block: the indent its lines need; else 0
    context = "none"  # kind of the last non-blank block: none, para, list, code
    item_indent = 0  # in a list item: the column its content starts at
    fence_indent = 0
    open_dd = False  # an odd number of $$ so far in this paragraph: the next one closes
    for line in lines:
        if fence is not None:
            out.append(_blank(line))
            stripped = line.strip()
            if (
                _indent_width(line) - fence_indent < 4
                and stripped
                and set(stripped) == {fence[0]}
                and len(stripped) >= fence[1]
            ):
                fence = None
                prev_blank = True  # a block ended: an indented line next opens code
            continue
        if in_math:
            out.append(_blank(line))
            if "$$" in line:
                in_math = False
                prev_blank, context = True, "none"
            continue
        if not line.strip():
            out.append(line)
            prev_blank, open_dd = True, False
            continue
        indent = _indent_width(line)
        # Inside a list item, blocks are read relative to the item's content column.
        base = item_indent if context == "list" and indent >= item_indent else 0
        m = _FENCE_OPEN.match(_dedent(line, base) if base else line)
        if m and not (m.group(2)[0] == "`" and "`" in m.group(3)):
            fence = (m.group(2)[0], len(m.group(2)))
            fence_indent, open_dd = base, False
            out.append(_blank(line))
            prev_blank, code_min = False, 0
            continue
        if (code_min and indent >= code_min) or (prev_blank and indent >= base + 4 and
                                                 (context != "list" or base)):
            out.append(_blank(line))  # indented code block
            if not code_min:
                code_min = base + 4
            prev_blank = False
            continue
        code_min = 0
        if _BLOCK_MATH.match(line) and line.count("$$") == 1 and not open_dd:
            in_math = True
            out.append(_blank(line))
            prev_blank, context = False, "para"
            continue
        out.append(line)
        if line[0] in "#-*_" and _BLOCK_END.match(line):
            # An ATX heading or a thematic break is a whole block: an indented line next is code.
            prev_blank, context, open_dd = True, "none", False
            continue
        if "$$" in line and line.count("$$") % 2:
            open_dd = not open_dd
        item = _LIST_ITEM.match(line)
        if item:
            gap = _indent_width(" " * (len(item.group(1)) + len(item.group(2))) + item.group(3))
            gap -= len(item.group(1)) + len(item.group(2))
            context = "list"
            item_indent = len(item.group(1)) + len(item.group(2)) + (gap if 1 <= gap <= 4 else 1)
        elif not (context == "list" and (not prev_blank or indent >= item_indent)):
            context = "para"
        prev_blank = False
    masked = "\n".join(out)
    return _INLINE_MASK.sub(_mask_match, masked)


def _dedent(line: str, width: int) -> str:
    """`line` without its first `width` columns of indentation (tabs stop every 4)."""
    column = 0
    for i, ch in enumerate(line):
        if column >= width or ch not in " \t":
            return " " * (column - width) + line[i:]
        column += 4 - column % 4 if ch == "\t" else 1
    return ""


def _mask_match(m: re.Match[str]) -> str:
    text = m.group()
    if text[0] == "\\":
        return text
    return _blank(text)


# --- links, tags, headings -------------------------------------------------

# Every alternative starts with a literal, so the regex engine skips ahead by
# character set instead of trying each position (3-4x faster on real pages).
_TOKEN = re.compile(
    r"\\[\[\]#!<h]"  # an escaped character opens nothing
    r"|\[\[(?P<wiki>[^\[\]\n]+?)\]\]"
    r"|\[(?P<mdtext>(?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
    r"\(\s*(?P<dest><[^<>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
    r"|<(?P<auto>[a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>]+)>"
    r"|h(?P<url>ttps?://[^\s<>\[\]()]+)"
    r"|#(?P<tag>[\w/-]+)"
)
_WIKILINK = re.compile(r"(?<!\\)(!?)\[\[([^\[\]\n]+?)\]\]")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_TAG_CHARS = re.compile(r"^[\w/-]+$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\r?$", re.MULTILINE)
_IMAGE_SIZE = re.compile(r"^\s*\d+(?:\s*x\s*\d+)?\s*$")


def _is_external(dest: str) -> bool:
    # "C:\..." is a Windows path, not a URL scheme.
    return bool(_SCHEME.match(dest)) and not re.match(r"^[a-zA-Z]:[\\/]", dest)


def split_wikilink(inner: str, embed: bool) -> tuple[str, str | None, str | None]:
    """`T#H1#H2|shown` → (target, anchor, display); a table's `\\|` is a plain `|`."""
    inner = inner.replace("\\|", "|")
    target_part, bar, display = inner.partition("|")
    shown: str | None = display.strip() if bar else None
    if embed and shown is not None and _IMAGE_SIZE.match(shown):
        shown = None  # ![[img.png|200x100]]: a size, not display text
    target, hash_, anchor = target_part.partition("#")
    return target.strip(), (anchor.strip() or None) if hash_ else None, shown


def _is_relative(target: str) -> bool:
    return target.startswith(("./", "../")) or target in (".", "..")


def page_kind(path: str, fm_type: Any, options: ParseOptions) -> str | None:
    if isinstance(fm_type, str) and fm_type.strip():
        return fm_type.strip()
    top, sep, _ = path.partition("/")
    if not sep:
        return None
    for folder, kind in options.folder_kinds:
        if folder == top:
            return kind
    return top[:-1] if top.endswith("s") and len(top) > 1 else top


def is_source_page(path: str, fm_type: Any, options: ParseOptions) -> bool:
    if isinstance(fm_type, str) and fm_type.strip().lower() in options.source_types:
        return True
    return any(path == f or path.startswith(f + "/") for f in options.source_folders)


def _string_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _frontmatter_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _frontmatter_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _frontmatter_strings(v)]
    return []


def parse_page(path: str, text: str, options: ParseOptions = DEFAULT_OPTIONS) -> ParsedPage:
    """Parse one page. `path` is its vault-relative POSIX path; never raises on bad input."""
    problems: list[Problem] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    fm_text, body_offset, body_line = split_frontmatter(text)
    fm: dict[str, Any] = {}
    if fm_text is not None:
        try:
            loaded = YAML_HANDLER.load(fm_text)
        except yaml.YAMLError as exc:
            # The construct's start (context) is where a person looks; else the error's spot.
            marks = [getattr(exc, a, None) for a in ("context_mark", "problem_mark")]
            lines = [m.line for m in marks if m is not None]
            line = 2 + min(lines) if lines else 1
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            problems.append(
                Problem(line, f"frontmatter is not valid YAML ({reason}); kept as body", "error")
            )
            loaded = None
            body_offset, body_line = 0, 1
        else:
            if loaded is None:
                pass  # an empty block is an empty mapping
            elif isinstance(loaded, dict):
                fm = _jsonable(loaded)
            else:
                problems.append(
                    Problem(1, "the block between --- lines is not a mapping; kept as body")
                )
                body_offset, body_line = 0, 1
    body = text[body_offset:]
    fm_type = fm.get("type")
    page = ParsedPage(
        title="",
        kind=page_kind(path, fm_type, options),
        is_source=is_source_page(path, fm_type, options),
        frontmatter=fm,
        body=body,
        problems=problems,
    )

    # Line of any offset in the body, from one sorted list of newline offsets.
    newlines = [m.start() for m in re.finditer("\n", body)]

    def line_of(offset: int) -> int:
        return body_line + bisect.bisect_left(newlines, offset)

    masked = mask_body(body)

    for m in _HEADING.finditer(masked):
        raw = body[m.start(2) : m.end(2)] if m.group(2) is not None else ""
        page.headings.append(Heading(len(m.group(1)), raw.strip(), line_of(m.start())))

    # Frontmatter: title, aliases, tags, and wikilinks in string values.
    title = fm.get("title")
    if isinstance(title, str | int | float) and str(title).strip():
        page.title = str(title).strip()
    else:
        h1 = next((h for h in page.headings if h.level == 1 and h.text), None)
        page.title = h1.text if h1 else posixpath.splitext(posixpath.basename(path))[0]
    page.aliases = list(dict.fromkeys(_string_list(fm.get("aliases", fm.get("alias")))))
    seen_tags: dict[str, str] = {}
    raw_tags = fm.get("tags", fm.get("tag"))
    if isinstance(raw_tags, str):
        raw_tags = re.split(r"[,\s]+", raw_tags)
    for tag in _string_list(raw_tags):
        tag = tag.strip().lstrip("#")
        if tag and _TAG_CHARS.match(tag) and not tag.replace("/", "").isdigit():
            seen_tags.setdefault(tag.lower(), tag)
    link_pos: list[int] = []
    ext_pos: list[tuple[int, ExternalLink]] = []
    if fm_text is not None and fm:
        fm_lines = fm_text.split("\n")
        for value in _frontmatter_strings(fm):
            for m in _WIKILINK.finditer(value):
                embed = m.group(1) == "!"
                target, anchor, display = split_wikilink(m.group(2), embed)
                needle = m.group(0)
                line = next((i + 2 for i, ln in enumerate(fm_lines) if needle in ln), 2)
                page.links.append(
                    Link(target, anchor, display, embed, line, "frontmatter", _is_relative(target))
                )
                link_pos.append(line - 1_000_000_000)

    # Body: wikilinks, Markdown links, URLs and tags, in one left-to-right scan, so
    # whatever starts first owns its text (a URL inside a link is not a second link).
    for m in _TOKEN.finditer(masked):
        kind = m.lastgroup
        start = m.start()
        before = masked[start - 1] if start else "\n"
        if kind == "escape":
            continue
        if kind == "wiki" or kind == "dest":  # dest: the last group of a Markdown link
            embed = before == "!" and (start < 2 or masked[start - 2] != "\\")
            pos = start - 1 if embed else start
            if before == "\\":
                continue
            if kind == "wiki":
                target, anchor, display = split_wikilink(body[m.start("wiki"):m.end("wiki")],
                                                         embed)
                page.links.append(Link(target, anchor, display, embed, line_of(pos),
                                       "wikilink", _is_relative(target)))
                link_pos.append(pos)
                continue
            dest = m.group("dest")
            if dest.startswith("<"):
                dest = dest[1:-1]
            dest = dest.strip()
            if not dest:
                continue
            shown = body[m.start("mdtext"):m.end("mdtext")].strip() or None
            if _is_external(dest):
                ext_pos.append((pos, ExternalLink(dest, line_of(pos), shown)))
                continue
            path_part, hash_, anchor = dest.partition("#")
            target = unquote(path_part).strip()
            page.links.append(
                Link(target, unquote(anchor).strip() or None if hash_ else None, shown,
                     embed, line_of(pos), "markdown", _is_relative(target))
            )
            link_pos.append(pos)
        elif kind == "auto":
            ext_pos.append((start, ExternalLink(m.group("auto"), line_of(start), None)))
        elif kind == "url":
            if not (before.isalnum() or before in "_/(<[\\"):
                url = "h" + m.group("url").rstrip(".,;:!?'\"")
                ext_pos.append((start, ExternalLink(url, line_of(start), None)))
        elif kind == "tag":
            if before.isspace():
                tag = m.group("tag").rstrip("/")
                if tag and not tag.replace("/", "").isdigit():
                    seen_tags.setdefault(tag.lower(), tag)
    page.tags = list(seen_tags.values())
    # Document order: frontmatter first (negative offsets), then by position in the body.
    ordered = sorted(zip(link_pos, page.links, strict=True), key=lambda t: t[0])
    page.links = [ln for _, ln in ordered]
    page.external_links = [e for _, e in sorted(ext_pos, key=lambda t: t[0])]
    return page


def decode_page(data: bytes) -> tuple[str, Problem | None]:
    """Bytes → text; invalid UTF-8 is replaced, and the first bad byte's line reported."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return data.decode("utf-8", "replace"), Problem(
            line, "not valid UTF-8; decoded with replacement characters"
        )
