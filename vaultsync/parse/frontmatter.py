"""The YAML block at the top of a page: split, load within a budget, and recover.

PyYAML builds whatever a document asks for, so a few hundred bytes of nested aliases
(a "billion laughs") expand to gigabytes. The node graph is composed first (linear in
the text, aliases are shared nodes), its expanded size counted, and only a document
within budget is constructed. A block PyYAML rejects (template placeholders such as
`created: {{date}}`) is read again one top-level key at a time, so that the keys it
can read are kept.

Frontmatter is small and read for every page, so PyYAML's Python half is kept short:
plain scalars that no implicit resolver could claim skip the resolver, and a plain
mapping of strings, numbers, dates, lists and mappings is built straight into its JSON
form by SafeConstructor's own scalar constructors; anything else (tags, merge keys,
aliases, non-string keys) goes through PyYAML's whole constructor.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections import defaultdict, deque
from typing import Any, NamedTuple

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .records import Problem

try:  # PyYAML's C loader is 3-4x faster; fall back quietly where libyaml is missing.
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

# Expanded size of a document (a node counts 1, a scalar also its length): at most
# this much more than twice its text, which no document without aliases can reach.
ALIAS_BUDGET = 100_000
# A rejected block is read again key by key; this many keys at most as YAML (~20 µs
# each), the rest as their text.
LENIENT_YAML_KEYS = 200
# Frontmatter is a few hundred bytes, a few KB with long lists; PyYAML builds ~0.15 µs of
# Python objects per byte. A longer block is read up to the last key that starts within
# this many characters.
MAX_FRONTMATTER = 64_000


# The first characters of a plain scalar some implicit resolver looks at (bool, int,
# float, null, timestamp, merge…); a scalar starting otherwise is a string.
_RESOLVED_FIRST = frozenset(_SafeLoader.yaml_implicit_resolvers)
_FAST_RESOLVE = None not in _RESOLVED_FIRST and not _SafeLoader.yaml_path_resolvers
_STR_TAG = _SafeLoader.DEFAULT_SCALAR_TAG


# The resolver's verdict on a plain scalar depends on its text alone: keys (title, tags,
# type) and values (dates) repeat from page to page.
_RESOLVED: dict[str, str] = {}


class _Loader(_SafeLoader):
    """The C safe loader, with the resolver's verdict on most scalars given at once."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode or not _FAST_RESOLVE:
            return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if not implicit[0] or (value and value[0] not in _RESOLVED_FIRST):
            return _STR_TAG
        tag = _RESOLVED.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(_RESOLVED) >= 4096:
                _RESOLVED.clear()
            if len(value) <= 64:
                _RESOLVED[value] = tag
        return tag


_FM_OPEN = re.compile(r"---[ \t]*\r?\n")
# The closing line, found by the newline before it: a search for a literal skips ahead,
# one anchored at every line start (^) does not.
_FM_CLOSE = re.compile(r"\n((?:---|\.\.\.)[ \t]*\r?)$", re.MULTILINE)


def split_frontmatter(text: str) -> tuple[str | None, int, int]:
    """Find a YAML block at the very top: (yaml text or None, body offset, body's first line)."""
    if not _FM_OPEN.match(text):
        return None, 0, 1
    first_nl = text.index("\n") + 1
    close = _FM_CLOSE.search(text, first_nl - 1)
    if close is None:
        return None, 0, 1
    fm = text[first_nl : close.start(1)]
    end = close.end(1)
    if end < len(text) and text[end] == "\n":
        end += 1
    return fm, end, text.count("\n", 0, end) + 1


class OverBudget(ValueError):
    """The document would expand beyond what a page may hold."""


def _check_expansion(root: yaml.Node, text_len: int) -> None:
    """Raise OverBudget if the node graph, aliases expanded, is too large or recursive."""
    limit = 2 * text_len + ALIAS_BUDGET
    cost: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            if isinstance(node, yaml.MappingNode):
                total = 1 + sum(cost[id(k)] + cost[id(v)] for k, v in node.value)
            else:
                total = 1 + sum(cost[id(c)] for c in node.value)
            if total > limit:
                raise OverBudget("its aliases expand past the size budget")
            cost[key] = total
            continue
        if key in cost:
            continue
        if isinstance(node, yaml.ScalarNode):
            cost[key] = 1 + len(node.value)
            continue
        if key in on_path:
            raise OverBudget("an alias refers to a node that contains it")
        on_path.add(key)
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.append((k, False))
                stack.append((v, False))
        else:
            stack.extend((c, False) for c in node.value)


class NotAMapping(ValueError):
    """The document is a scalar or a list, not a mapping."""


def load_mapping(text: str) -> dict[str, Any] | None:
    """A YAML mapping, within budget, in JSON form (jsonable); None for an empty document.

    Raises yaml.YAMLError, OverBudget, RecursionError or NotAMapping.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in text:  # without an alias nothing can expand
            _check_expansion(node, len(text))
        elif node.__class__ is MappingNode and node.tag == _MAP_TAG:
            try:
                return _plain_mapping(node, 0)
            except _NotPlain:
                pass
        loaded = loader.construct_document(node)
    finally:
        loader.dispose()
    if isinstance(loaded, dict):
        return jsonable(loaded)  # type: ignore[no-any-return]
    if loaded is None:
        return None
    raise NotAMapping


_MAP_TAG = _SafeLoader.DEFAULT_MAPPING_TAG
_SEQ_TAG = _SafeLoader.DEFAULT_SEQUENCE_TAG
_CONSTRUCTOR = SafeConstructor()
_SCALARS = {
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
}
_PLAIN_DEPTH = 50
# A date, number or bool in JSON form (immutable) by its tag and text: dates and counts
# repeat from page to page, and building a timestamp costs a regex and a datetime.
_CONSTRUCTED: dict[tuple[str, str], Any] = {}
_MISSING = object()


class _NotPlain(Exception):
    """A node the short path does not build: PyYAML's constructor will."""


def _plain_mapping(node: MappingNode, depth: int) -> dict[str, Any]:
    """What jsonable(SafeConstructor's mapping) gives, for a mapping with string keys."""
    out: dict[str, Any] = {}
    for key, value in node.value:
        if key.__class__ is not ScalarNode or key.tag != _STR_TAG:
            raise _NotPlain  # a merge key (<<), a number, a date…: PyYAML decides
        out[key.value] = _plain_value(value, depth)
    return out


def _plain_value(node: Any, depth: int) -> Any:
    cls = node.__class__
    if cls is ScalarNode:
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        key = (tag, node.value)
        value = _CONSTRUCTED.get(key, _MISSING)
        if value is _MISSING:
            construct = _SCALARS.get(tag)
            if construct is None:
                raise _NotPlain
            value = jsonable(construct(node))
            if len(_CONSTRUCTED) >= 4096:
                _CONSTRUCTED.clear()
            _CONSTRUCTED[key] = value
        return value
    if depth >= _PLAIN_DEPTH:
        raise _NotPlain
    if cls is MappingNode and node.tag == _MAP_TAG:
        return _plain_mapping(node, depth + 1)
    if cls is SequenceNode and node.tag == _SEQ_TAG:
        return [_plain_value(item, depth + 1) for item in node.value]
    raise _NotPlain


def jsonable(value: Any) -> Any:
    """YAML gives dates, sets, non-string keys and NaN; JSON takes none of them.

    A float that is not finite (`.nan`, `.inf`) becomes null, as JavaScript's
    JSON.stringify writes it: SQLite's JSON functions reject NaN and Infinity.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, _dt.date | _dt.datetime | _dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


class Frontmatter(NamedTuple):
    data: dict[str, Any]
    problems: list[Problem]
    is_frontmatter: bool  # False: the block is not frontmatter, read it as body
    text: str = ""  # the part of the block that was read


def _error_line(exc: yaml.YAMLError) -> int:
    # The construct's start (context) is where a person looks; else the error's spot.
    marks = [getattr(exc, a, None) for a in ("context_mark", "problem_mark")]
    lines = [m.line for m in marks if m is not None]
    return 2 + min(lines) if lines else 1


# A line that starts a top-level key: not indented, not a comment, not a list item.
_ENTRY_START = re.compile(r"^(?:[^ \t#\-\r\n]|-(?![ \t])(?![^\S\n]*$))", re.MULTILINE)
_ENTRY_KEY = re.compile(r"""("[^"\n]*"|'[^'\n]*'|[^:\n]*?)[ \t]*:(?:[ \t]|$)""")


def _entries(fm_text: str) -> list[str]:
    """The top-level entries of a YAML mapping, each its text (lines before the first
    key dropped)."""
    starts = [m.start() for m in _ENTRY_START.finditer(fm_text)]
    if not starts:
        return []
    # Each entry ends before the newline that ends its last line, the last at the end.
    ends = [s - 1 for s in starts[1:]] + [len(fm_text)]
    return [fm_text[s:e] for s, e in zip(starts, ends, strict=True)]


def _lenient(fm_text: str) -> tuple[dict[str, Any], int, int]:
    """Read a rejected block key by key: (what was read, keys read as YAML, keys in all)."""
    data: dict[str, Any] = {}
    parsed = 0
    entries = _entries(fm_text)
    for n, chunk in enumerate(entries):
        try:  # a YAML load costs ~20 µs: past a budget, keys are kept as their text
            value = load_mapping(chunk) if n < LENIENT_YAML_KEYS else None
        except (yaml.YAMLError, OverBudget, RecursionError, NotAMapping):
            value = None
        if value is not None:
            data.update(value)
            parsed += 1
            continue
        m = _ENTRY_KEY.match(chunk)
        if m is None:
            continue
        key = m.group(1).strip()
        if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
            key = key[1:-1]
        raw = chunk[m.end():].strip()
        data[key] = raw or None
    return data, parsed, len(entries)



def read_frontmatter(fm_text: str) -> Frontmatter:
    """Load a frontmatter block, or its first MAX_FRONTMATTER characters; never raises."""
    try:
        return _read_frontmatter(fm_text)
    except UnicodeEncodeError:  # lone surrogates cannot reach libyaml; '?' keeps the rest
        return _read_frontmatter(fm_text.encode("utf-8", "replace").decode("utf-8"))


def _read_frontmatter(fm_text: str) -> Frontmatter:
    if len(fm_text) <= MAX_FRONTMATTER:
        return _read_block(fm_text)
    starts = [m.start() for m in _ENTRY_START.finditer(fm_text, 0, MAX_FRONTMATTER + 1)]
    cut = starts[-1] if starts else 0
    read = _read_block(fm_text[:cut])
    if not read.is_frontmatter:
        return read
    line = 2 + fm_text.count("\n", 0, cut)
    return read._replace(problems=[*read.problems, Problem(line, (
        f"frontmatter is {len(fm_text):,} characters, over the {MAX_FRONTMATTER:,} read "
        f"as YAML: the keys from line {line} on are not read"))])


def _read_block(fm_text: str) -> Frontmatter:
    try:  # empty: an empty mapping
        return Frontmatter(load_mapping(fm_text) or {}, [], True, fm_text)
    except yaml.YAMLError as exc:
        line = _error_line(exc)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        why = f"frontmatter is not valid YAML ({reason})"
    except (OverBudget, RecursionError) as exc:
        line = 1
        reason = str(exc) if isinstance(exc, OverBudget) else "it is nested too deeply"
        why = f"frontmatter refused: {reason}"
    except NotAMapping:
        return Frontmatter({}, [Problem(
            1, "the block between --- lines is not a mapping; kept as body")], False)
    data, parsed, total = _lenient(fm_text)
    if not data:
        return Frontmatter({}, [Problem(line, f"{why}; kept as body", "error")], False)
    kept = f"read key by key: {parsed} of {total} keys as YAML"
    if parsed < len(data):
        kept += f", {len(data) - parsed} as plain text"
    return Frontmatter(data, [Problem(line, f"{why}; {kept}", "error")], True, fm_text)


# --- links in frontmatter values ----------------------------------------------------

WIKILINK = re.compile(r"(?<!\\)(!?)\[\[([^\[\]\n]+?)\]\]")


def frontmatter_strings(value: Any) -> list[str]:
    """Every string value, depth first, in document order."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
    return out


def link_lines(fm_text: str) -> dict[str, deque[int]]:
    """Where each `[[…]]` is written in the block: its text → the lines, in order (1-based
    in the file, the block starting on line 2)."""
    lines: dict[str, deque[int]] = defaultdict(deque)
    line, pos = 2, 0
    for m in WIKILINK.finditer(fm_text):
        line += fm_text.count("\n", pos, m.start())
        pos = m.start()
        lines[m.group(0)].append(line)
    return lines
