"""The vault on disk: which files belong to it, under which path, and how to tell
that one changed. Only stats and directory listings here; reading and parsing are
the sync engine's.

The rules, in one place:

- **Names.** Dot-files, dot-folders and editors' temporary files are not part of the
  vault (`Config.is_ignored_name`). A name that is not valid UTF-8 cannot be a key of
  the mirror: it is reported as one problem (under its name with the bad bytes shown
  as `\\xNN`), and a folder so named is not entered.
- **Symlinks** never lead out of the vault unless the user said where they may:
  a link whose target (its real path) lies outside the vault's folder is followed
  only when the target is in a folder of the `follow_symlinks_outside` setting;
  otherwise it is a problem row saying how to allow it. Kernel pseudo-filesystems
  (`/proc`, `/sys`, `/dev`, and any proc, sysfs, devtmpfs… mount) are never
  entered, allowed or not. A followed tree outside the vault is bounded: at most
  `MAX_OUTSIDE_ENTRIES` entries and `MAX_OUTSIDE_DEPTH` folders deep below its link;
  the rest is not indexed, and the link is a problem row that says so. A link whose
  target lies inside the vault is not followed: the vault already holds that file or
  folder at its real path (a link to `.` is the common loop). A folder reached a
  second time (a loop, or a second link to the same folder) is entered only the first
  time, in sorted path order. Every link not followed, and every dangling or
  unreadable `.md` link, is a problem row.
- **Unreadable names.** A folder that cannot be listed (no permission, a path
  longer than the system allows) and a file that cannot be stat'ed are each a
  problem row; the rest of the vault syncs.
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


def inode_at(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Which file or folder is at `path` (device, inode); None when nothing is. A path
    whose inode changed was replaced: an atomic save, a folder made again. (A FileStat
    is the other thing compared: whether a file's content may have changed.)"""
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
    # Files with more than one name (hard links), by (device, inode): a partial scan
    # fills it, so that an edit through one name is looked for under the others.
    hard_linked: set[tuple[int, int]] = field(default_factory=set)


class SymlinkInfo(NamedTuple):
    target: str  # the real absolute path
    followed: bool
    kind: str  # what the target is: "dir", "file", "other" or "missing"

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"


NOT_A_FILE = "skipped: not a regular file (a FIFO, socket or device)"

# Bounds of a tree followed outside the vault, per followed link: the entries (files
# and folders) listed under it, and how many folders deep below it.
MAX_OUTSIDE_ENTRIES = 100_000
MAX_OUTSIDE_DEPTH = 32
# Kernel pseudo-filesystems: never entered, whatever the settings allow. They hold no
# notes, and some lead back to the whole file system (`/proc/<pid>/root`).
PSEUDO_ROOTS = ("/proc", "/sys", "/dev")
PSEUDO_TYPES = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs",
    "securityfs", "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs",
    "binfmt_misc", "efivarfs", "selinuxfs", "nsfs", "autofs", "rpc_pipefs"})


def pseudo_devices() -> frozenset[int]:
    """The devices (st_dev) of the pseudo-filesystems mounted now (Linux; elsewhere
    none, and PSEUDO_ROOTS alone apply)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return frozenset()
    devices = set()
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        fs_type = fields[fields.index("-") + 1]
        major, _, minor = fields[2].partition(":")
        if fs_type in PSEUDO_TYPES and major.isdigit() and minor.isdigit():
            devices.add(os.makedev(int(major), int(minor)))
    return frozenset(devices)


def is_pseudo_path(real: str) -> bool:
    return any(real == root or real.startswith(root + "/") for root in PSEUDO_ROOTS)


def leads_through_pseudo(link: str) -> bool:
    """Whether a symlink, or a link it leads to, points into a pseudo-filesystem: the
    real path alone misses `/proc/self/root`, which resolves to `/`."""
    path = link
    for _ in range(40):  # the kernel's own bound on a chain of links
        try:
            target = os.readlink(path)
        except OSError:
            return False  # not a link (any more): the end of the chain
        hop = os.path.join(os.path.dirname(path), target)
        try:
            hop = os.path.join(os.path.realpath(os.path.dirname(hop)), os.path.basename(hop))
        except OSError:
            hop = os.path.abspath(hop)
        if is_pseudo_path(hop):
            return True
        path = hop
    return False


@dataclass
class _OutsideTree:
    """The budget of one followed link's tree outside the vault."""

    link: str
    stat: FileStat  # the link's own (lstat)
    target: str
    entries: int = 0
    too_many: bool = False
    too_deep: bool = False

    def count(self) -> bool:
        """One more entry listed; False once past the bound (the rest is left out)."""
        if self.entries >= MAX_OUTSIDE_ENTRIES:
            self.too_many = True
            return False
        self.entries += 1
        return True

    def problem(self) -> Blocked | None:
        if self.too_many:
            why = f"it holds more than {MAX_OUTSIDE_ENTRIES:,} entries"
        elif self.too_deep:
            why = f"it is more than {MAX_OUTSIDE_DEPTH} folders deep"
        else:
            return None
        return Blocked(self.stat, f"symlink to {self.target}: followed in part, {why} "
                                  "(the bound on a tree outside the vault); the rest is "
                                  "not indexed")


def _kind(st: os.stat_result) -> str:
    """What a symlink's target is (see SymlinkInfo.kind), from its stat."""
    return ("dir" if stat_mod.S_ISDIR(st.st_mode) else
            "file" if stat_mod.S_ISREG(st.st_mode) else "other")


def real_path(path: str) -> str:
    """os.path.realpath, or the path itself where a link on the way cannot be read
    (`/proc/1/root` for another user)."""
    try:
        return os.path.realpath(path)
    except OSError:
        return os.path.abspath(path)


def link_state(path: str) -> tuple[str, str]:
    """A symlink's real target and what it is now (see SymlinkInfo.kind)."""
    try:
        st = os.stat(path)
    except OSError:
        return real_path(path), "missing"
    return real_path(path), _kind(st)


def display_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 shown as `\\xNN`."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_valid_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


PSEUDO_FOLDER = ("not entered: a kernel pseudo-filesystem is mounted here (not notes, and "
                 "a way into the whole file system)")
_Dir = tuple[str, str, "_OutsideTree | None", int]


class VaultScanner:
    """Walks one vault by the rules above."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.root = str(config.vault)
        self.real_root = os.path.realpath(self.root)
        self.pseudo = pseudo_devices()

    def allowed_outside(self, real: str) -> bool:
        """Whether the settings let a symlink lead to `real`, outside the vault."""
        return any(real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)
                   for folder in self.config.follow_symlinks_outside)

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
        self.pseudo = pseudo_devices()  # mounts come and go
        root = os.stat(self.root)
        self._walk_from("", self.root, scan, {(root.st_dev, root.st_ino)}, partial=False)
        return scan

    def _walk_from(self, rel_dir: str, abs_dir: str, scan: Scan,
                   visited: set[tuple[int, int]], *, partial: bool) -> None:
        # Each folder to list: its vault path, real path, the outside tree it belongs
        # to (None inside the vault) and its depth below that tree's link.
        stack: list[_Dir] = [(rel_dir, abs_dir, None, 0)]
        linked_files: dict[tuple[int, int], str] = {}
        trees: list[_OutsideTree] = []
        while stack:
            current, abs_current, tree, depth = stack.pop()
            if tree is not None and tree.too_many:
                continue
            try:
                with os.scandir(abs_current) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except (FileNotFoundError, NotADirectoryError):
                continue  # vanished: its files count as gone
            except OSError as exc:
                self._block_folder(current, abs_current, exc, scan)
                continue
            subdirs: list[_Dir] = []
            for entry in entries:
                name = entry.name
                if self.config.is_ignored_name(name):
                    continue
                if tree is not None and not tree.count():
                    break
                rel = f"{current}/{name}" if current else name
                try:
                    if not is_valid_name(name):
                        self._block_bad_name(rel, entry, scan)
                    elif entry.is_symlink():
                        if partial:
                            raise FullScanNeeded(rel)
                        target = self._symlink(rel, entry.path, scan, visited, linked_files)
                        if target is not None:
                            inner = tree
                            if inner is None:
                                inner = _OutsideTree(rel, file_stat(os.lstat(entry.path)),
                                                     target)
                                trees.append(inner)
                            self._push(subdirs, (rel, entry.path, inner,
                                                 depth + 1 if tree is not None else 0))
                    elif entry.is_dir(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        key = (st.st_dev, st.st_ino)
                        if st.st_dev in self.pseudo:
                            scan.blocked[rel] = Blocked(file_stat(st), PSEUDO_FOLDER)
                        elif key not in visited:  # a bind mount can loop too
                            visited.add(key)
                            self._push(subdirs, (rel, entry.path, tree, depth + 1))
                    elif entry.is_file(follow_symlinks=False):
                        st = entry.stat(follow_symlinks=False)
                        scan.files[rel] = file_stat(st)
                        if partial and st.st_nlink > 1:
                            scan.hard_linked.add((st.st_dev, st.st_ino))
                    elif is_page_path(rel):
                        scan.blocked[rel] = Blocked(
                            file_stat(entry.stat(follow_symlinks=False)), NOT_A_FILE)
                except OSError as exc:
                    if is_page_path(rel):
                        scan.files[rel] = UNKNOWN_STAT  # loading it says why
                    else:
                        scan.blocked[rel] = Blocked(
                            UNKNOWN_STAT, f"skipped: cannot read ({exc.strerror or exc})",
                            "error")
            stack.extend(reversed(subdirs))  # popped in sorted order
        for tree in trees:
            problem = tree.problem()
            if problem is not None:
                scan.blocked[tree.link] = problem

    @staticmethod
    def _push(subdirs: list[_Dir], folder: _Dir) -> None:
        """A folder to list, unless it lies deeper than the bound of its outside tree."""
        tree, depth = folder[2], folder[3]
        if tree is not None and depth > MAX_OUTSIDE_DEPTH:
            tree.too_deep = True
        else:
            subdirs.append(folder)

    def _block_folder(self, rel: str, path: str, exc: OSError, scan: Scan) -> None:
        """A folder that cannot be listed: one problem row for it and its files."""
        try:
            stat = file_stat(os.lstat(path))
        except OSError:
            stat = UNKNOWN_STAT
        scan.blocked[rel or "."] = Blocked(
            stat, f"skipped: cannot read this folder ({exc.strerror or exc}); its files "
                  "are not indexed", "error")

    def _block_bad_name(self, rel: str, entry: os.DirEntry[str], scan: Scan) -> None:
        shown = display_name(rel)
        what = "folder" if entry.is_dir(follow_symlinks=False) else "file"
        scan.blocked[shown] = Blocked(
            file_stat(entry.stat(follow_symlinks=False)),
            f"skipped: the {what} name is not valid UTF-8; rename it to index it"
            + (" and its contents" if what == "folder" else ""), "error")

    def _symlink(self, rel: str, path: str, scan: Scan, visited: set[tuple[int, int]],
                 linked_files: dict[tuple[int, int], str]) -> str | None:
        """Judge one symlink; a followed folder's real path is returned (always outside
        the vault), to be listed."""
        lst = file_stat(os.lstat(path))
        try:
            st = os.stat(path)
        except OSError as exc:
            if is_page_path(rel):
                why = "a symlink loop" if exc.errno == errno.ELOOP else "a broken symlink"
                scan.blocked[rel] = Blocked(lst, f"skipped: cannot read ({why}: {exc.strerror})",
                                           "error")
            # Remembered all the same: when its target appears, a full walk decides.
            scan.symlinks[rel] = SymlinkInfo(real_path(path), False, "missing")
            return None
        real = real_path(path)
        kind = _kind(st)
        inside = self._inside(real)
        followed = False
        listed: str | None = None
        if inside is not None:
            shown = inside or "the vault itself"
            scan.blocked[rel] = Blocked(
                lst, f"symlink to {shown}: not followed, the vault holds it there already")
        elif is_pseudo_path(real) or st.st_dev in self.pseudo or leads_through_pseudo(path):
            scan.blocked[rel] = Blocked(
                lst, f"symlink to {real}: never followed, it is a kernel pseudo-filesystem "
                     "(not notes, and a way into the whole file system)")
        elif not self.allowed_outside(real) and (kind in ("dir", "file") or
                                                 is_page_path(rel)):
            scan.blocked[rel] = Blocked(
                lst, f"symlink to {real}: not followed, it leads outside the vault; to "
                     f'index it, add "{real}" (or a folder above it) to '
                     "follow_symlinks_outside in the settings")
        elif kind == "dir":
            key = (st.st_dev, st.st_ino)
            if key in visited:
                scan.blocked[rel] = Blocked(
                    lst, f"symlink to {real}: not followed, that folder is already in the "
                         "vault (a loop, or another link to it)")
            else:
                visited.add(key)
                listed = real
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
        return listed

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
            if self._behind_link(rel, symlinks):
                # A tree outside the vault is bounded as a whole: only a full walk
                # counts its entries.
                raise FullScanNeeded(rel)
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
                if st.st_nlink > 1:
                    scan.hard_linked.add((st.st_dev, st.st_ino))
            elif is_page_path(rel):
                scan.blocked[rel] = Blocked(file_stat(st), NOT_A_FILE)
        return scan, prefixes, exact

    def add_hard_links(self, scan: Scan, names: Iterable[str]) -> list[str]:
        """Add to a partial scan the other names (among `names`, known files) of the
        hard-linked files it found: an edit through one name changes them all, but a
        watcher reports only the name written. Returns the names added."""
        added = []
        for rel in names:
            if rel in scan.files:
                continue
            try:
                st = os.lstat(os.path.join(self.root, rel))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in scan.hard_linked:
                scan.files[rel] = file_stat(st)
                added.append(rel)
        return added

    def symlinks_changed(self, symlinks: dict[str, SymlinkInfo]) -> bool:
        """Whether a symlink known from the last full walk now points elsewhere, or at
        something else (a dangling link whose target appeared, a folder that went):
        nothing reports that through the link's own path."""
        return any(link_state(os.path.join(self.root, rel)) != (info.target, info.kind)
                   for rel, info in symlinks.items())

    @staticmethod
    def _behind_link(rel: str, symlinks: dict[str, SymlinkInfo]) -> bool:
        parts = rel.split("/")
        return any("/".join(parts[:i]) in symlinks for i in range(1, len(parts)))

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
            real = real_path(abs_path)
            inside = self._inside(real)
            if inside is not None:
                out.add(inside)
            else:
                for rel, info in symlinks.items():
                    if info.followed and (real == info.target or
                                          real.startswith(info.target + os.sep)):
                        out.add(rel + real[len(info.target):].replace(os.sep, "/"))
        return out
