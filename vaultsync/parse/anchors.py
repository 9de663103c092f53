"""Does a link's `#Heading`, `#H1#H2` or `#^block` anchor name something in its page?

Obsidian matches a link's heading with a page's heading after "stripping" both: each
ASCII punctuation character but `-`, `_` and `'` (that is, any of
``!"#$%&()*+,.:;<=>?@^`{|}~/[]\\``) read as a space, runs of spaces made one, the ends
trimmed; and ignoring case. So `[[Functions#hasTag]]` finds ``### `hasTag()` ``,
`#wifi 2 4 vs 5 0` finds `# wifi 2.4 vs 5.0`, and `#D D WOTC` finds `## D&D WOTC`;
`#Community Plugins` does not find `## Community Plugins and Scripts`. (This is the
`stripHeading` of Obsidian's API; its link suggester writes the heading with only the
characters that would break a link, `[[ ]] | # ^ : %% \\`, replaced.)
`[[Page#H1#H2]]` names an H2 under an H1 (each part a deeper heading than the one
before, in page order); `#^id` a block id, ignoring case.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

_STRIPPED = str.maketrans(dict.fromkeys('!"#$%&()*+,.:;<=>?@^`{|}~/[]\\', " "))
MAX_PARTS = 100  # a longer heading path is never a real one


def heading_key(text: str) -> str:
    """The form under which Obsidian compares a heading with a link's anchor."""
    return " ".join(text.translate(_STRIPPED).split()).casefold()


def anchor_parts(anchor: str) -> list[str]:
    """`H1#H2` → the heading keys it names, outermost first (empty parts dropped)."""
    return [key for key in (heading_key(p) for p in anchor.split("#")) if key]


class PageAnchors:
    """A page's headings and block ids in the form anchors are compared with: made once
    per page, then asked about each link to it."""

    __slots__ = ("headings", "block_ids")

    def __init__(self, headings: Sequence[tuple[int, str]], block_ids: Collection[str]) -> None:
        self.headings = [(level, heading_key(text)) for level, text in headings]
        self.block_ids = {b.casefold() for b in block_ids}

    def has(self, anchor: str | None) -> bool | None:
        """Whether `anchor` names a heading or block here; None when there is nothing
        to check."""
        if anchor is None:
            return None
        anchor = anchor.strip()
        if anchor.startswith("^"):
            wanted = anchor[1:].strip().casefold()
            return bool(wanted) and wanted in self.block_ids
        parts = anchor_parts(anchor)
        if not parts:
            return None  # `[[Page#]]`: the page itself
        if len(parts) > MAX_PARTS:
            return False
        where: dict[str, list[int]] = {}
        for i in range(len(parts) - 1, -1, -1):  # deepest first: one heading, one part
            where.setdefault(parts[i], []).append(i)
        found = [0] * len(parts)  # per part: the lowest level that matched it so far, 0: none
        for level, key in self.headings:
            for i in where.get(key, ()):
                if i == 0 or 0 < found[i - 1] < level:
                    if i == len(parts) - 1:
                        return True
                    if not found[i] or level < found[i]:
                        found[i] = level
        return False


def anchor_exists(anchor: str | None, headings: Sequence[tuple[int, str]],
                  block_ids: Collection[str]) -> bool | None:
    """Whether `anchor` names a heading or block of a page; None when there is nothing to check.

    `headings` are the page's (level, text) in order; `block_ids` its ids (any case).
    """
    return PageAnchors(headings, block_ids).has(anchor)
