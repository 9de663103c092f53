"""The vault on disk: which files belong to it, under which path, and how to tell
that one changed. Only stats and directory listings here; reading and parsing are
the sync engine's.

The rules, in one place:

- **Names.** Dot-files, dot-folders and editors' temporary files are not part of the
  vault (`Config.is_ignored_name`). A name that is not valid UTF-8 cannot be a key of
  the mirror: it is reported as one problem (under its name with the bad bytes shown
  as `\\xNN`), and a folder so named is not entered.
- **Symlinks** are followed as Obsidian follows them, with each real file indexed
  once. A link whose target lies inside the vault is not followed: the vault already
  holds that file or folder at its real path (a link to `.` is the common loop). A
  link to a file or folder outside the vault is followed; a folder reached a second
  time (a loop, or a second link to the same folder) is entered only the first time,
  in sorted path order. Every link not followed, and every dangling or unreadable
  `.md` link, is a problem row.
- **Identity.** A file is unchanged when its size, mtime, ctime and inode are all
  unchanged (what git compares). Size and mtime alone miss a file replaced by
  another of the same size and mtime (`mv b.md a.md` after `touch -d`, an archive
  extracted with whole-second times); ctime and the inode cannot be set back.
"""

from __future__ import annotations

import errno
import os
import stat as stat_mod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from .config import Config
from .resolve import is_page_path


class FileStat(NamedTuple):
    """What a later scan compares to tell whether a file changed."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


def identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Which file or folder is at `path` (device, inode); None when nothing is. A path
    whose identity changed was replaced: an atomic save, a folder made again."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def file_stat(st: os.stat_result) -> FileStat:
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


# Stands for a page that is listed but cannot be stat'ed: loading it says why.
UNKNOWN_STAT = FileStat(-1, -1, -1, -1)


class Blocked(NamedTuple):
    """A name in the vault that is not indexed, and why: one problem row."""

    stat: FileStat
    message: str
    severity: str = "warning"


class FullScanNeeded(Exception):  # noqa: N818 - a signal, not an error
    """A partial scan met a symlink it cannot judge alone: only a full walk decides
    which of two paths to the same folder is followed."""


@dataclass
class Scan:
    """Files found under the scanned paths, and the known paths those paths cover."""

    files: dict[str, FileStat] = field(default_factory=dict)
    blocked: dict[str, Blocked] = field(default_factory=dict)
    # Symlinks met, by vault path: their real target, and whether they are followed.
    # Only a full walk fills it.
    symlinks: dict[str, SymlinkInfo] = field(default_factory=dict)
    full: bool = False


class SymlinkInfo(NamedTuple):
    target: str  # the real absolute path
    followed: bool
    kind: str  # what the target is: "dir", "file", "other" or "missing"

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"


NOT_A_FILE = "skipped: not a regular file (a FIFO, socket or device)"


def _kind(st: os.stat_result) -> str:
    """What a symlink's target is (see SymlinkInfo.kind), from its stat."""
    return ("dir" if stat_mod.S_ISDIR(st.st_mode) else
            "file" if stat_mod.S_ISREG(st.st_mode) else "other")


def link_state(path: str) -> tuple[str, str]:
    """A symlink's real target and what it is now (see SymlinkInfo.kind)."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path), "missing"
    return os.path.realpath(path), _kind(st)


def display_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 shown as `\\xNN`."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_valid_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class VaultScanner:
    """Walks one vault by the rules above."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = str(config.vault)
        self.real_root = os.path.realpath(self.root)

    def ignored(self, rel: str) -> bool:
        return any(self.config.is_ignored_name(part) for part in rel.split("/"))

    def _inside(self, real: str) -> str | None:
        """The vault path of a real path inside the vault (and part of it), else None."""
        if real == self.real_root:
            return ""
        if not real.startswith(self.real_root + os.sep):
            return None
        rel = real[len(self.real_root) + 1:].replace(os.sep, "/")
        return None if self.ignored(rel) else rel

    # --- the full walk ------------------------------------------------------------------

    def walk(self) -> Scan:
        """Every file of the vault, deterministically: entries in sorted order, depth
        first, so a folder reachable twice is always entered at the same path."""
        scan = Scan(full=True)
        root = os.stat(self.root)
        self._walk_from("", self.root, scan, {(root.st_dev, root.st_ino)}, partial=False)
        return scan

    def _walk_from(self, rel_dir: str, abs_dir: str, scan: Scan,
                   visited: set[tuple[int, int]], *, partial: bool) -> None:
        stack = [(rel_dir, abs_dir)]
        linked_files: dict[tuple[int, int], str] = {}
        while stack:
            current, abs_current = stack.pop()
            try:
                with os.scandir(abs_current) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                continue  # vanished or unreadable folder: its files count as gone
            subdirs: list[tuple[str, str]] = []
            for entry in entries:
                name = entry.name
                if self.config.is_ignored_name(name):
                    continue
                rel = f"{current}/{name}" if current else name
                try:
                    if not is_valid_name(name):
                        self._block_bad_name(rel, entry, scan)
                    elif entry.is_symlink():
                        if partial:
                            raise FullScanNeeded(rel)
                        self._symlink(rel, entry.path, scan, visited, linked_files, subdirs)
                    elif entry.is_dir(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        key = (st.st_dev, st.st_ino)
                        if key not in visited:  # a bind mount can loop too
                            visited.add(key)
                            subdirs.append((rel, entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        scan.files[rel] = file_stat(entry.stat(follow_symlinks=False))
                    elif is_page_path(rel):
                        scan.blocked[rel] = Blocked(
                            file_stat(entry.stat(follow_symlinks=False)), NOT_A_FILE)
                except OSError:
                    if is_page_path(rel):
                        scan.files[rel] = UNKNOWN_STAT  # loading it says why
            stack.extend(reversed(subdirs))  # popped in sorted order

    def _block_bad_name(self, rel: str, entry: os.DirEntry[str], scan: Scan) -> None:
        shown = display_name(rel)
        what = "folder" if entry.is_dir(follow_symlinks=False) else "file"
        scan.blocked[shown] = Blocked(
            file_stat(entry.stat(follow_symlinks=False)),
            f"skipped: the {what} name is not valid UTF-8; rename it to index it"
            + (" and its contents" if what == "folder" else ""), "error")

    def _symlink(self, rel: str, path: str, scan: Scan, visited: set[tuple[int, int]],
                 linked_files: dict[tuple[int, int], str],
                 subdirs: list[tuple[str, str]]) -> None:
        lst = file_stat(os.lstat(path))
        try:
            st = os.stat(path)
        except OSError as exc:
            if is_page_path(rel):
                why = "a symlink loop" if exc.errno == errno.ELOOP else "a broken symlink"
                scan.blocked[rel] = Blocked(lst, f"skipped: cannot read ({why}: {exc.strerror})",
                                           "error")
            # Remembered all the same: when its target appears, a full walk decides.
            scan.symlinks[rel] = SymlinkInfo(os.path.realpath(path), False, "missing")
            return
        real = os.path.realpath(path)
        kind = _kind(st)
        inside = self._inside(real)
        followed = False
        if inside is not None:
            shown = inside or "the vault itself"
            scan.blocked[rel] = Blocked(
                lst, f"symlink to {shown}: not followed, the vault holds it there already")
        elif kind == "dir":
            key = (st.st_dev, st.st_ino)
            if key in visited:
                scan.blocked[rel] = Blocked(
                    lst, f"symlink to {real}: not followed, that folder is already in the "
                         "vault (a loop, or another link to it)")
            else:
                visited.add(key)
                subdirs.append((rel, path))
                followed = True
        elif kind == "file":
            key = (st.st_dev, st.st_ino)
            if key in linked_files:
                scan.blocked[rel] = Blocked(
                    lst, f"symlink to {real}: not followed, indexed as {linked_files[key]}")
            else:
                linked_files[key] = rel
                scan.files[rel] = file_stat(st)
                followed = True
        elif is_page_path(rel):
            scan.blocked[rel] = Blocked(lst, NOT_A_FILE)
        scan.symlinks[rel] = SymlinkInfo(real, followed, kind)

    # --- a partial scan ----------------------------------------------------------------

    def scan_paths(self, paths: Iterable[str], symlinks: dict[str, SymlinkInfo]
                   ) -> tuple[Scan, list[str], set[str]]:
        """Files under the given vault paths (files or folders, existing or gone): the
        scan, the folder prefixes covered, and the exact paths covered. Raises
        FullScanNeeded when a path is, was or holds a symlink, so a full walk decides."""
        scan = Scan()
        prefixes: list[str] = []
        exact: set[str] = set()
        for raw in paths:
            rel = raw.strip("/")
            if not rel:
                raise FullScanNeeded("")
            if not is_valid_name(rel) or rel in symlinks:
                raise FullScanNeeded(rel)
            if self.ignored(rel) or self._behind_unfollowed_link(rel, symlinks):
                continue
            exact.add(rel)
            full = os.path.join(self.root, rel)
            try:
                st = os.lstat(full)
            except OSError:
                prefixes.append(rel + "/")  # gone: it may have been a folder
                continue
            if stat_mod.S_ISLNK(st.st_mode):
                raise FullScanNeeded(rel)
            if stat_mod.S_ISDIR(st.st_mode):
                prefixes.append(rel + "/")
                self._walk_from(rel, full, scan, {(st.st_dev, st.st_ino)}, partial=True)
            elif stat_mod.S_ISREG(st.st_mode):
                scan.files[rel] = file_stat(st)
            elif is_page_path(rel):
                scan.blocked[rel] = Blocked(file_stat(st), NOT_A_FILE)
        return scan, prefixes, exact

    def symlinks_changed(self, symlinks: dict[str, SymlinkInfo]) -> bool:
        """Whether a symlink known from the last full walk now points elsewhere, or at
        something else (a dangling link whose target appeared, a folder that went):
        nothing reports that through the link's own path."""
        return any(link_state(os.path.join(self.root, rel)) != (info.target, info.kind)
                   for rel, info in symlinks.items())

    @staticmethod
    def _behind_unfollowed_link(rel: str, symlinks: dict[str, SymlinkInfo]) -> bool:
        if not symlinks:
            return False
        parts = rel.split("/")
        for i in range(1, len(parts)):
            info = symlinks.get("/".join(parts[:i]))
            if info is not None and not info.followed:
                return True
        return False

    # --- events to vault paths ----------------------------------------------------------

    def vault_paths(self, abs_path: str, symlinks: dict[str, SymlinkInfo]) -> set[str]:
        """The vault paths a watcher's event path may stand for. The watcher follows
        symlinks itself and reports a change under whichever path it registered, so a
        change to `notes/a.md` can arrive as `link-to-notes/a.md`: the literal path, its
        real path inside the vault, and its path through a followed link all count."""
        out: set[str] = set()
        prefix = self.root + os.sep
        if abs_path.startswith(prefix):
            out.add(abs_path[len(prefix):].replace(os.sep, "/"))
        elif abs_path == self.root:
            out.add("")
        if symlinks or not abs_path.startswith(prefix):
            real = os.path.realpath(abs_path)
            inside = self._inside(real)
            if inside is not None:
                out.add(inside)
            else:
                for rel, info in symlinks.items():
                    if info.followed and (real == info.target or
                                          real.startswith(info.target + os.sep)):
                        out.add(rel + real[len(info.target):].replace(os.sep, "/"))
        return out
