"""Dataview inline fields, read as Dataview reads them (src/data-import/inline-field.ts).

Per line: every `[key:: value]` and `(key:: value)` (the key holds no bracket, the
value runs to the matching closing bracket, nesting and `\\` escapes respected); a line
with none is a whole-line field `key:: value` when its key is made of letters, digits,
spaces, `_`, `/`, `-` or emoji, with leading punctuation (`> `, `- `, `**`) and trailing
`_*~` markup dropped. A task's line has no whole-line field. As in Dataview, lines
longer than 32,768 characters are not read. Unlike Dataview, nothing in code counts
(the lines come masked), and a page is read for fields up to a budget: each line with a
`::` is a few Python steps, and its brackets one each.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from .records import Field

MAX_LINE = 32_768
# Lines holding `::` read per page, and characters in them: ~3 µs a line, up to ~0.3 µs a
# character. Dataview's example vault holds 1,754 fields in all.
MAX_FIELD_LINES = 5_000
MAX_FIELD_CHARS = 100_000

_ITEM = re.compile(r"(?:>[ \t]*)*(?:[-+*]|\d{1,9}[.)])[ \t]+(?P<box>\[[^\n]\][ \t]+)?")
_EMOJI = "\u2600-\u27bf\U0001f000-\U0001faff\u200d\ufe0f"
_FULL_KEY = re.compile(rf"[^\w{_EMOJI}]*+((?:[\w\s/{_EMOJI}-])++)[_*~`]*+\Z")
_ANY_BRACKET = re.compile(r"[\[\]()]")
_CLOSE = {"[": "]", "(": ")"}


_BRACKETS = {"[": re.compile(r"\\.|[\[\]]", re.DOTALL), "(": re.compile(r"\\.|[()]", re.DOTALL)}


def _closers(line: str, open_: str) -> dict[int, int]:
    """Each `open_` bracket's matching closer, skipping `\\`-escaped characters."""
    close = _CLOSE[open_]
    match: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACKETS[open_].finditer(line):
        ch = m.group()
        if ch == open_:
            stack.append(m.start())
        elif ch == close and stack:
            match[stack.pop()] = m.start()
    return match


def _bracketed(masked: str, raw: str) -> list[tuple[int, str, str]]:
    found: list[tuple[int, str, str]] = []
    for open_ in "[(":
        if open_ not in masked:
            continue
        closers = _closers(masked, open_)
        sep = -1
        p = masked.find(open_)
        while p >= 0:
            if sep < p + 1:
                sep = masked.find("::", p + 1)
                if sep < 0:
                    break
            bracket = _ANY_BRACKET.search(masked, p + 1)
            end = closers.get(p)
            if (bracket is None or bracket.start() > sep) and end is not None and end > sep:
                key = raw[p + 1:sep].strip()
                if key:
                    found.append((p, key, raw[sep + 2:end].strip()))
                    p = masked.find(open_, end + 1)
                    continue
            p = masked.find(open_, p + 1)
    found.sort()
    return found


def _find_separator(text: str, start: int) -> int:
    """text.find("::", start), looking for single colons first: a search for one character
    is several times faster than for two, and prose has few colons."""
    pos = text.find(":", start)
    for _ in range(32):
        if pos < 0 or text.startswith(":", pos + 1):
            return pos
        pos = text.find(":", pos + 2)
    return text.find("::", pos)


class Fields(NamedTuple):
    fields: list[Field]
    read_up_to: int | None = None  # set when the budget ran out: where reading stopped


def read_fields(body: str, masked: str, line_of: Callable[[int], int]) -> Fields:
    """The inline fields of a body, given its masked copy (same offsets)."""
    fields: list[Field] = []
    lines = chars = 0
    pos = _find_separator(masked, 0)
    while pos >= 0:
        start = masked.rfind("\n", 0, pos) + 1
        end = masked.find("\n", pos)
        if end < 0:
            end = len(masked)
        if end - start <= MAX_LINE:
            lines += 1
            chars += end - start
            if lines > MAX_FIELD_LINES or chars > MAX_FIELD_CHARS:
                return Fields(fields, start)
            line = line_of(start)
            m_line, r_line = masked[start:end], body[start:end]
            lead = len(m_line) - len(m_line.lstrip())
            m_line = m_line.strip()
            r_line = _with_code_tail(r_line[lead:lead + len(m_line)], r_line[lead + len(m_line):])
            found = _bracketed(m_line, r_line)
            if found:
                fields.extend(Field(k, v, line) for _, k, v in found)
            else:
                item = _ITEM.match(m_line)
                if not (item and item.group("box")):
                    at = item.end() if item else 0
                    field = _whole_line(m_line[at:], r_line[at:])
                    if field:
                        fields.append(Field(field[0], field[1], line))
        pos = _find_separator(masked, end)
    return Fields(fields)


def _with_code_tail(text: str, tail: str) -> str:
    """A line's text up to its last unmasked character, and the inline code after it, if
    that is all there is: `key:: `= this.file.ctime`` keeps its value, backticks and all,
    as Dataview does; a trailing comment or math stays out."""
    rest = tail.strip()
    if len(rest) > 1 and rest[0] == "`" and rest[-1] == "`":
        return text + tail.rstrip()
    return text


def _whole_line(masked: str, raw: str) -> tuple[str, str] | None:
    sep = masked.find("::")
    m = _FULL_KEY.match(masked[:sep].strip())
    if m is None or not m.group(1).strip():
        return None
    return m.group(1).strip(), raw[sep + 2:].strip()
