"""The sync's picture of the vault: what the mirror holds, kept in memory.

Pages, attachments, skipped files, the paths with problems and the resolver that
answers which file a link names change together. `VaultIndex` is the one place they
change, so a file added, removed or renamed is never known to one of them and not to
another.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from .mirror import KnownFile, Mirror
from .parse import Problem
from .resolve import Resolver
from .scan import FileStat


class VaultIndex:
    """The files the mirror holds, by vault path, and the resolver over them.

    The resolver names every file of the vault, skipped pages included: a link to a
    page that exists but could not be indexed (binary, too large) names it all the
    same. It is built on first use (a sync that finds nothing changed never needs
    it) from the files known then, and kept in step by the methods below from there.
    """

    def __init__(self, pages: dict[str, KnownFile], attachments: dict[str, KnownFile],
                 skipped: dict[str, FileStat], problem_paths: set[str]) -> None:
        self.pages = pages
        self.attachments = attachments
        self.skipped = skipped
        self.problem_paths = problem_paths
        self._resolver: Resolver | None = None

    @classmethod
    def of(cls, mirror: Mirror) -> VaultIndex:
        """The index as `mirror`'s rows have it."""
        return cls(mirror.page_states(), mirror.attachment_states(),
                   mirror.skipped_states(), mirror.problem_paths())

    @property
    def resolver(self) -> Resolver:
        if self._resolver is None:
            self._resolver = Resolver([*self.pages, *self.attachments, *self.skipped])
        return self._resolver

    def groups(self) -> tuple[Iterable[str], ...]:
        """Every known path, group by group (a path may be in more than one)."""
        return self.pages, self.attachments, self.skipped, self.problem_paths

    def known(self, path: str) -> bool:
        return any(path in paths for paths in self.groups())

    def paths(self) -> Iterator[str]:
        for paths in self.groups():
            yield from paths

    def sharing_inode(self, inodes: set[int]) -> list[str]:
        """Pages, attachments and skipped files last seen with one of `inodes`."""
        return [path for states in (self.pages, self.attachments)
                for path, state in states.items() if state.stat.inode in inodes] + \
            [path for path, stat in self.skipped.items() if stat.inode in inodes]

    # --- keeping it in step ---------------------------------------------------------------

    def expect(self, paths: Iterable[str]) -> None:
        """Files a batch is about to write or skip: links resolve to them before they
        are written (a page written later in the batch is named all the same)."""
        for path in paths:
            self.resolver.add(path)

    def add_page(self, path: str, state: KnownFile) -> None:
        self.pages[path] = state
        self.resolver.add(path)

    def remove_page(self, path: str, *, keep_name: bool = False) -> KnownFile | None:
        """Forget a page (its state, if it was known); `keep_name`: the file is still
        there, skipped, and links still name it."""
        state = self.pages.pop(path, None)
        if not keep_name:
            self.resolver.remove(path)
        return state

    def rename_page(self, old: str, new: str, *, keep_old_name: bool = False) -> int:
        """A page moved from `old` to `new`: its row id, which moves with it. The new
        path's state is added when the page is written there."""
        state = self.pages.pop(old)
        if not keep_old_name:
            self.resolver.remove(old)
        self.resolver.add(new)
        return state.id

    def add_attachment(self, path: str, state: KnownFile) -> None:
        self.attachments[path] = state
        self.resolver.add(path)

    def remove_attachment(self, path: str) -> None:
        del self.attachments[path]
        self.resolver.remove(path)

    def skip(self, path: str, stat: FileStat) -> None:
        """A file that exists but is not indexed: links name it all the same."""
        self.skipped[path] = stat
        self.resolver.add(path)

    def unskip(self, path: str) -> None:
        """A file no longer skipped: gone, or a page or attachment now."""
        self.skipped.pop(path, None)
        if path not in self.pages and path not in self.attachments:
            self.resolver.remove(path)

    def note_problems(self, problems: Mapping[str, Sequence[Problem]]) -> None:
        """The problem rows just written: a path with none has no row left."""
        self.problem_paths |= {p for p, found in problems.items() if found}
        self.problem_paths -= {p for p, found in problems.items() if not found}
