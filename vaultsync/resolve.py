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
    """An index of every file in the vault, answering which file a link names."""

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self._by_path: dict[str, str] = {}
        self._by_name: dict[str, list[str]] = {}
        for path in paths:
            self.add(path)

    def __contains__(self, path: str) -> bool:
        return self._by_path.get(path_key(path)) == path

    def __len__(self) -> int:
        return len(self._by_path)

    def add(self, path: str) -> None:
        key = path_key(path)
        if self._by_path.get(key) == path:
            return
        self._by_path.setdefault(key, path)
        bucket = self._by_name.setdefault(key.rpartition("/")[2], [])
        if path not in bucket:
            bucket.append(path)

    def remove(self, path: str) -> None:
        key = path_key(path)
        name = key.rpartition("/")[2]
        bucket = self._by_name.get(name, [])
        if path in bucket:
            bucket.remove(path)
            if not bucket:
                del self._by_name[name]
        if self._by_path.get(key) == path:
            del self._by_path[key]
            # Two files can differ only in case on a case-sensitive disk.
            for other in bucket:
                if path_key(other) == key:
                    self._by_path[key] = other
                    break

    def resolve(self, target: str, source_path: str, relative: bool = False) -> str | None:
        """The vault path `target` names when written in `source_path`, or None."""
        target = target.strip()
        if not target:
            return source_path  # [[#Heading]]: the page itself
        if relative or target.startswith(("./", "../")):
            joined = posixpath.normpath(posixpath.join(_folder(source_path), target))
            if joined.startswith("../") or joined == "..":
                return None
            return self._by_path.get(path_key(joined))
        key = path_key(target.lstrip("/"))
        if "/" in key:
            return self._by_path.get(posixpath.normpath(key))
        candidates = self._by_name.get(key)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        exact = self._by_path.get(key)
        if exact is not None:
            return exact
        folder = _folder(source_path).lower()
        same_folder = [c for c in candidates if _folder(c).lower() == folder]
        pool = same_folder or candidates
        return min(pool, key=lambda p: (len(p), p))
