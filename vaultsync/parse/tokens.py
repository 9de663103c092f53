"""Links, URLs and tags in a masked body: Obsidian's forms, in one left-to-right scan.

The scan runs over the body with code, math and comments blanked (markdown.py), so it
never looks inside them, and whatever starts first owns its text (a URL inside a link is
not a second link). Every pattern is linear: each alternative starts with a literal and
no repetition can match the same text two ways.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import unquote

from .records import ExternalLink, Link

# Every alternative starts with a literal, so the regex engine skips ahead by
# character set instead of trying each position (3-4x faster on real pages). Where giving
# back what a repetition took can never let the rest match, it is possessive (`*+`): a
# failed attempt then fails at once (a megabyte of `[a](` costs 45 ms instead of 110).
_ESCAPE = r"\\[\\\[\]#!<h]"  # an escaped character (or backslash) opens nothing
_WIKI = r"\[\[(?P<wiki>[^\[\]\n]+?)\]\]"
_MARKDOWN = (r"\[(?P<mdtext>(?:[^\[\]\n\\]++|\\.|\[[^\[\]\n]*+\])*+)\]"
             r"\(\s*+(?P<dest><[^<>\n]*+>|[^\s()<>]*+(?:\([^\s()]*+\)[^\s()<>]*+)*+)"
             r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)")
_AUTOLINK = r"<(?P<auto>[a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>]+)>"
_URL = r"h(?P<url>ttps?://[^\s<>\[\]()]+)"
_TAG = r"#(?P<tag>[\w/-]+)"


@functools.cache
def _token_pattern(wiki: bool, markdown: bool, url: bool) -> re.Pattern[str]:
    """The scan, without the alternatives a text cannot match (it has no `]]`, no `)` or
    no `://`): a failed alternative changes nothing, so the tokens are the same, and the
    engine need not stop at every `h` or `[` to try them."""
    return re.compile("|".join(
        [_ESCAPE] + [_WIKI] * wiki + [_MARKDOWN] * markdown + [_AUTOLINK] + [_URL] * url
        + [_TAG]))


# Past this many links, URLs, tags and escapes (about 1.5 µs each), the rest of a page is
# not read for them: an index page of every note of a large vault holds a few thousand.
MAX_TOKENS = 20_000
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_WINDOWS_PATH = re.compile(r"^[a-zA-Z]:[\\/]")
_IMAGE_SIZE = re.compile(r"^\s*\d+(?:\s*x\s*\d+)?\s*$")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


_NEWLINE = re.compile("\n")


def line_index(text: str, first_line: int = 1) -> Callable[[int], int]:
    """offset in `text` → its 1-based line, counting from `first_line`.

    Callers ask in order, pass after pass (headings, links, tasks, fields): newlines are
    counted from the offset asked before (a page of short lines has a million of them,
    and a table of them costs 60 ns each); after a few jumps back, the table is built
    once and searched by bisection.
    """
    last_offset = 0
    last_line = first_line
    backs = 0
    newlines: list[int] | None = None

    def line_of(offset: int) -> int:
        nonlocal last_offset, last_line, backs, newlines
        if newlines is not None:
            return first_line + bisect.bisect_left(newlines, offset)
        if offset >= last_offset:
            last_line += text.count("\n", last_offset, offset)
        elif backs < 16:
            backs += 1
            last_line = first_line + text.count("\n", 0, offset)
        else:
            newlines = [m.start() for m in _NEWLINE.finditer(text)]
            return first_line + bisect.bisect_left(newlines, offset)
        last_offset = offset
        return last_line

    return line_of


def is_external(dest: str) -> bool:
    # "C:\..." is a Windows path, not a URL scheme.
    return bool(_SCHEME.match(dest)) and not _WINDOWS_PATH.match(dest)


def is_relative(target: str) -> bool:
    return target.startswith(("./", "../")) or target in (".", "..")


def split_wikilink(inner: str, embed: bool) -> tuple[str, str | None, str | None]:
    """`T#H1#H2|shown` → (target, anchor, display); a table's `\\|` is a plain `|`."""
    inner = inner.replace("\\|", "|")
    target_part, bar, display = inner.partition("|")
    shown: str | None = display.strip() if bar else None
    if embed and shown is not None and _IMAGE_SIZE.match(shown):
        shown = None  # ![[img.png|200x100]]: a size, not display text
    target, hash_, anchor = target_part.partition("#")
    return target.strip(), (anchor.strip() or None) if hash_ else None, shown


class BodyTokens(NamedTuple):
    links: list[tuple[int, Link]]  # (offset in the body, link)
    external: list[tuple[int, ExternalLink]]
    tags: list[str]  # as written, in order, duplicates kept
    read_up_to: int | None = None  # set when MAX_TOKENS ran out: where reading stopped


def scan_tokens(body: str, masked: str, line_of: Callable[[int], int]) -> BodyTokens:
    """Wikilinks, Markdown links, URLs and tags of `body`, read from its masked copy."""
    links: list[tuple[int, Link]] = []
    external: list[tuple[int, ExternalLink]] = []
    tags: list[str] = []
    if len(masked) > 65_536:  # two-character searches cost ~1 ns a character
        wiki, markdown = "]]" in masked, ")" in masked and "](" in masked
    else:
        wiki, markdown = True, ")" in masked
    found = _token_pattern(wiki, markdown, "://" in masked).finditer(masked)
    for m in itertools.islice(found, MAX_TOKENS):
        kind = m.lastgroup
        if kind is None:
            continue  # an escape
        start = m.start()
        before = masked[start - 1] if start else "\n"
        if kind == "wiki" or kind == "dest":  # dest: the last group of a Markdown link
            embed = before == "!" and (start < 2 or masked[start - 2] != "\\")
            pos = start - 1 if embed else start
            if kind == "wiki":  # [[…]]: the text from the body, as it may hold masked code
                target, anchor, display = split_wikilink(body[start + 2:m.end() - 2], embed)
                links.append((pos, Link(target, anchor, display, embed, line_of(pos),
                                        "wikilink", target[:1] == "." and is_relative(target))))
                continue
            dest = m.group("dest")
            if dest.startswith("<"):
                dest = dest[1:-1]
            dest = dest.strip()
            if "\\" in dest:
                dest = _ESCAPED.sub(r"\1", dest)
            if not dest:
                continue
            shown = body[start + 1:m.end("mdtext")].strip() or None
            if ":" in dest and is_external(dest):
                external.append((pos, ExternalLink(dest, line_of(pos), shown)))
                continue
            path_part, hash_, anchor = dest.partition("#")
            target = (unquote(path_part) if "%" in path_part else path_part).strip()
            if hash_:
                anchor = (unquote(anchor) if "%" in anchor else anchor).strip()
            links.append((pos, Link(target, anchor or None if hash_ else None, shown, embed,
                                    line_of(pos), "markdown",
                                    target[:1] == "." and is_relative(target))))
        elif kind == "auto":
            external.append((start, ExternalLink(m.group("auto"), line_of(start), None)))
        elif kind == "url":
            if not (before.isalnum() or before in "_/(<[\\"):
                url = "h" + m.group("url").rstrip(".,;:!?'\"")
                external.append((start, ExternalLink(url, line_of(start), None)))
        elif kind == "tag":
            if before.isspace():
                tag = m.group("tag").rstrip("/")
                if tag and not tag.replace("/", "").isdigit():
                    tags.append(tag)
    rest = next(found, None)
    return BodyTokens(links, external, tags, None if rest is None else rest.start())
