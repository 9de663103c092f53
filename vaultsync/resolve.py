"""Link → file, by Obsidian's rules.

Case-insensitive. `.md` is optional on pages. A target with `/` is a path from
the vault root; one starting with `./` or `../` is relative to the linking
page; any other is a file name, and when several files share it the exact
vault path wins, then a file in the linking page's folder, then the shortest
path. Aliases never resolve a link.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable


def is_page_path(path: str) -> bool:
    return path.lower().endswith(".md")


def path_key(path: str) -> str:
    """The lower-cased vault path, without `.md` for a page."""
    low = path.lower()
    return low[:-3] if low.endswith(".md") else low


def name_key(target: str) -> str:
    """The last path component of a target or path, as links are matched by name."""
    return path_key(target.rstrip("/")).rpartition("/")[2]


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


class Resolver:
    """An index of every file in the vault, answering which file a link names.

    Files that differ only in case (possible on a case-sensitive disk) all match a
    link; the one spelled as written wins, else the first in sorted order, so the
    answer never depends on the order files were seen in.
    """

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self._by_name: dict[str, list[str]] = {}
        for path in paths:
            self.add(path)

    def __contains__(self, path: str) -> bool:
        return path in self._by_name.get(name_key(path), ())

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._by_name.values())

    def add(self, path: str) -> None:
        bucket = self._by_name.setdefault(name_key(path), [])
        if path not in bucket:
            bucket.append(path)

    def remove(self, path: str) -> None:
        name = name_key(path)
        bucket = self._by_name.get(name, [])
        if path in bucket:
            bucket.remove(path)
            if not bucket:
                del self._by_name[name]

    @staticmethod
    def _best(candidates: list[str], written: str) -> str:
        spelled = {written, written + ".md"}
        return min(candidates, key=lambda p: (p not in spelled, len(p), p))

    def _at_path(self, key: str, written: str) -> str | None:
        matches = [p for p in self._by_name.get(key.rpartition("/")[2], ()) if path_key(p) == key]
        return self._best(matches, written) if matches else None

    def resolve(self, target: str, source_path: str, relative: bool = False) -> str | None:
        """The vault path `target` names when written in `source_path`, or None."""
        target = target.strip()
        if not target:
            return source_path  # [[#Heading]]: the page itself
        if relative or target.startswith(("./", "../")):
            joined = posixpath.normpath(posixpath.join(_folder(source_path), target))
            if joined.startswith("../") or joined == "..":
                return None
            return self._at_path(path_key(joined), joined)
        written = target.lstrip("/")
        key = path_key(written)
        if "/" in key:
            found = self._at_path(posixpath.normpath(key), posixpath.normpath(written))
            if found is None:
                # Not at the root: try beside the linking page, as Obsidian does for
                # links written in its "relative path" format (`sub/note.md`, no `./`).
                joined = posixpath.normpath(posixpath.join(_folder(source_path), written))
                if not joined.startswith("../"):
                    found = self._at_path(path_key(joined), joined)
            return found
        candidates = self._by_name.get(key)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        exact = self._at_path(key, written)
        if exact is not None:
            return exact
        folder = _folder(source_path).lower()
        same_folder = [c for c in candidates if _folder(c).lower() == folder]
        return self._best(same_folder or candidates, written)
