"""Link → file, by Obsidian's rules.

Case-insensitive, and blind to Unicode normalisation: names are compared in NFC,
so `Café` typed on Linux or Windows (NFC) finds `Café.md` as macOS writes it (NFD),
and the reverse; paths stay as they are on disk. `.md` is optional on pages. A
target with `/` is a path from the vault root; one starting with `./` or `../` is
relative to the linking page; any other is a file name, and when several files
share it the exact vault path wins, then a file in the linking page's folder, then
a file whose name is spelled as written (case and all: `[[note]]` finds `note.md`
before `Note.md`), then the shortest path. Aliases never resolve a link.
"""

from __future__ import annotations

import posixpath
import unicodedata
from collections.abc import Iterable


def is_page_path(path: str) -> bool:
    return path.lower().endswith(".md")


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def path_key(path: str) -> str:
    """The vault path in NFC, lower-cased, without `.md` for a page."""
    low = _nfc(path).lower()
    return low[:-3] if low.endswith(".md") else low


def spelling(path: str) -> str:
    """The last path component as written (NFC, case kept), without `.md` for a page:
    equal for a link and a file spelled alike."""
    name = _nfc(path.rstrip("/")).rpartition("/")[2]
    return name[:-3] if name.lower().endswith(".md") else name


def name_key(target: str) -> str:
    """The last path component of a target or path, as links are matched by name."""
    return path_key(target.rstrip("/")).rpartition("/")[2]


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


class _Bucket:
    """Every file that shares one name key, indexed so that a lookup never scans them
    all (digital gardens hold thousands of `index.md`)."""

    __slots__ = ("by_key", "by_folder", "by_spelling", "size", "only", "_shortest")

    def __init__(self) -> None:
        self.by_key: dict[str, list[str]] = {}  # path key → the paths (case twins)
        self.by_folder: dict[str, list[str]] = {}  # lower-cased folder → the paths
        # The name as spelled on disk (see spelling) → the paths, shortest first.
        self.by_spelling: dict[str, list[str]] = {}
        self.size = 0
        self.only: str | None = None  # the one path, while there is exactly one
        self._shortest: str | None = None  # cached (length, path) minimum

    def add(self, path: str) -> None:
        twins = self.by_key.setdefault(path_key(path), [])
        if path in twins:
            return
        twins.append(path)
        self.by_folder.setdefault(_folder(path).lower(), []).append(path)
        spelled = self.by_spelling.setdefault(spelling(path), [])
        spelled.append(path)
        if len(spelled) > 1 and _by_length(spelled[-1]) < _by_length(spelled[0]):
            spelled[0], spelled[-1] = spelled[-1], spelled[0]  # the shortest stays first
        self.size += 1
        self.only = path if self.size == 1 else None
        if self._shortest is not None and (len(path), path) < (len(self._shortest),
                                                                self._shortest):
            self._shortest = path

    def remove(self, path: str) -> None:
        key = path_key(path)
        twins = self.by_key.get(key)
        if not twins or path not in twins:
            return
        twins.remove(path)
        if not twins:
            del self.by_key[key]
        folder = _folder(path).lower()
        siblings = self.by_folder[folder]
        siblings.remove(path)
        if not siblings:
            del self.by_folder[folder]
        name = spelling(path)
        spelled = self.by_spelling[name]
        first = spelled[0] == path
        spelled.remove(path)
        if not spelled:
            del self.by_spelling[name]
        elif first:
            shortest = min(spelled, key=_by_length)
            spelled.remove(shortest)
            spelled.insert(0, shortest)
        self.size -= 1
        self.only = next(iter(self.by_key.values()))[0] if self.size == 1 else None
        if self._shortest == path:
            self._shortest = None

    def shortest(self) -> str:
        if self._shortest is None:
            self._shortest = min((p for twins in self.by_key.values() for p in twins),
                                 key=_by_length)
        return self._shortest


def _by_length(path: str) -> tuple[int, str]:
    return len(path), path


class Resolver:
    """An index of every file in the vault, answering which file a link names.

    Files that differ only in case (possible on a case-sensitive disk) all match a
    link; the one spelled as written wins, else the first in sorted order, so the
    answer never depends on the order files were seen in.
    """

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self._by_name: dict[str, _Bucket] = {}
        for path in paths:
            self.add(path)

    def __contains__(self, path: str) -> bool:
        bucket = self._by_name.get(name_key(path))
        return bucket is not None and path in bucket.by_key.get(path_key(path), ())

    def __len__(self) -> int:
        return sum(bucket.size for bucket in self._by_name.values())

    def add(self, path: str) -> None:
        name = name_key(path)
        bucket = self._by_name.get(name)
        if bucket is None:
            bucket = self._by_name[name] = _Bucket()
        bucket.add(path)

    def remove(self, path: str) -> None:
        name = name_key(path)
        bucket = self._by_name.get(name)
        if bucket is not None:
            bucket.remove(path)
            if not bucket.size:
                del self._by_name[name]

    @staticmethod
    def _best(candidates: list[str], written: str) -> str:
        """The candidate spelled as written (the whole path when `written` has a `/`,
        else the name), else the shortest."""
        if "/" in written:
            w = _nfc(written)
            spelled = {w, w + ".md"}
            return min(candidates, key=lambda p: (_nfc(p) not in spelled, len(p), p))
        name = spelling(written)
        return min(candidates, key=lambda p: (spelling(p) != name, len(p), p))

    def _at_path(self, key: str, written: str) -> str | None:
        bucket = self._by_name.get(key.rpartition("/")[2])
        twins = bucket.by_key.get(key) if bucket is not None else None
        return self._best(twins, written) if twins else None

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
        bucket = self._by_name.get(key)
        if bucket is None:
            return None
        if bucket.only is not None:
            return bucket.only
        exact = self._at_path(key, written)
        if exact is not None:
            return exact
        same_folder = bucket.by_folder.get(_folder(source_path).lower())
        if same_folder:
            return self._best(same_folder, written)
        spelled = bucket.by_spelling.get(spelling(written))
        return spelled[0] if spelled else bucket.shortest()
