"""What a parsed page is made of: small typed records, and the parser's options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple


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
    """A heading at the top level of the page (not inside a quote, callout or list)."""

    level: int
    text: str  # as written, without the # marks or the setext underline
    line: int


class Task(NamedTuple):
    """A list item with a checkbox: `- [ ] text`, `1. [x] text`, `* [-] text`."""

    line: int
    status: str  # the character between the brackets: " ", "x", "-", "/", ...
    done: bool  # status is "x" or "X"
    text: str  # the rest of the item's first line, without its block id
    block_id: str | None


class Block(NamedTuple):
    """A block identifier, `^id`, that `[[page#^id]]` links to."""

    block_id: str  # as written, without the caret
    line: int  # the line the `^id` is written on


class Field(NamedTuple):
    """A Dataview inline field: `key:: value`, `[key:: value]` or `(key:: value)`."""

    key: str  # as written (Dataview compares keys case-insensitively)
    value: str  # the raw text, trimmed
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
    tasks: list[Task] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pages cross from the parsing processes to the writer by pickle. A NamedTuple
        # pickles through two Python calls (out and back in), a plain tuple through none:
        # the records travel as plain tuples and are typed again on arrival, in C
        # (`tuple.__new__`). Half the pickling time of 10,000 pages.
        return (_parsed_page, (
            self.title, self.kind, self.is_source, self.frontmatter, self.body, self.tags,
            self.aliases, *(list(map(tuple, records)) for records in (
                self.headings, self.links, self.external_links, self.problems, self.tasks,
                self.blocks, self.fields))))


_RECORD_TYPES = (Heading, Link, ExternalLink, Problem, Task, Block, Field)
_TYPED: list[Callable[[tuple[Any, ...]], Any]] = [
    partial(tuple.__new__, record_type) for record_type in _RECORD_TYPES]


def _parsed_page(title: str, kind: str | None, is_source: bool, frontmatter: dict[str, Any],
                 body: str, tags: list[str], aliases: list[str],
                 *records: list[tuple[Any, ...]]) -> ParsedPage:
    """A ParsedPage from what its `__reduce__` gave."""
    headings, links, external, problems, tasks, blocks, fields = (
        list(map(typed, rows)) for typed, rows in zip(_TYPED, records, strict=True))
    return ParsedPage(title, kind, is_source, frontmatter, body, tags, aliases, headings,
                      links, external, problems, tasks, blocks, fields)


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """What the parser needs to know about the vault's conventions."""

    source_folders: tuple[str, ...] = ("sources",)
    source_types: tuple[str, ...] = ("source",)
    # Top folder → kind; a folder not named here gives its name without a plural "s".
    folder_kinds: tuple[tuple[str, str], ...] = ()
    # How a page without frontmatter `title` is titled (TITLE_RULES in page.py).
    title: str = "name-or-heading"


DEFAULT_OPTIONS = ParseOptions()
