"""A case-insensitive, case-preserving file system for the tests, as macOS' and Windows'
defaults are: `python tests/casefs.py BACKING MOUNTPOINT` mounts BACKING at MOUNTPOINT
through FUSE (mfusepy; needs /dev/fuse, libfuse and root) until unmounted.

A name is looked up by its exact spelling, else by case-folded match among its folder's
entries; a new name keeps the case it was created with, and a rename that changes only
case renames in place (`mv note.md Note.md`), as on APFS and NTFS.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import mfusepy


class CaseInsensitive(mfusepy.Operations):  # type: ignore[misc]
    use_ns = True  # utimens gets nanoseconds

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def _real(self, path: str) -> str:
        """The backing path that `path` names, matched case-insensitively part by part
        (a missing last part keeps its spelling: a new name)."""
        real = self.root
        for part in [p for p in path.split("/") if p]:
            candidate = os.path.join(real, part)
            if not os.path.lexists(candidate):
                try:
                    names = os.listdir(real)
                except OSError:
                    names = []
                match = next((n for n in names if n.casefold() == part.casefold()), None)
                if match is not None:
                    candidate = os.path.join(real, match)
            real = candidate
        return real

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        try:
            st = os.lstat(self._real(path))
        except OSError as exc:
            raise mfusepy.FuseOSError(exc.errno) from None
        return {key: getattr(st, key) for key in (
            "st_mode", "st_nlink", "st_size", "st_uid", "st_gid", "st_ino",
            "st_atime_ns", "st_mtime_ns", "st_ctime_ns")} | {
            "st_atime": st.st_atime, "st_mtime": st.st_mtime, "st_ctime": st.st_ctime}

    def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
        # Each entry with its inode: a listing entry without one would be left out.
        real = self._real(path)
        entries = [(".", os.lstat(real)), ("..", os.lstat(os.path.dirname(real)))]
        with os.scandir(real) as it:
            entries += [(e.name, e.stat(follow_symlinks=False)) for e in it]
        return [(name, {"st_ino": st.st_ino, "st_mode": st.st_mode}, 0)
                for name, st in entries]

    def open(self, path: str, flags: int) -> int:
        return os.open(self._real(path), flags)

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        return os.open(self._real(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        os.truncate(self._real(path) if fh is None else fh, length)
        return 0

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        os.fsync(fh)
        return 0

    def unlink(self, path: str) -> int:
        os.unlink(self._real(path))
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._real(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._real(path))
        return 0

    def rename(self, old: str, new: str) -> int:
        source = self._real(old)
        parent, name = os.path.split(new.rstrip("/"))
        target = os.path.join(self._real(parent), name)
        if os.path.lexists(self._real(new)) and \
                os.path.normcase(self._real(new)) != os.path.normcase(source):
            target = self._real(new)  # replacing another file: its spelling goes
        os.rename(source, target)
        return 0

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        os.utime(self._real(path), ns=times)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self._real(path))
        return {key: getattr(st, key) for key in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
            "f_files", "f_flag", "f_frsize", "f_namemax")}


def main(argv: list[str]) -> None:
    backing, mountpoint = argv
    # Every lookup reaches us (no kernel cache that would remember an old spelling), and
    # files keep their inode numbers: vaultsync tells files apart by them.
    mfusepy.FUSE(CaseInsensitive(backing), mountpoint, foreground=True, nothreads=True,
                 use_ino=True, attr_timeout=0, entry_timeout=0, negative_timeout=0)


if __name__ == "__main__":
    main(sys.argv[1:])
