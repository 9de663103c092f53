"""What the CLI draws on a terminal while long work runs: rich progress and spinners.

Only on a terminal: when stdout or stderr is redirected (a script, a pipe, a log
file) or with --quiet, nothing extra is printed, so output stays the same for scripts.
Drawn on stderr, beside the CLI's other notes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

# A sync that reads fewer pages is over before a bar could say anything useful.
PROGRESS_MIN_PAGES = 300


def interactive() -> bool:
    """Both stdout and stderr are terminals: a person is watching."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class SyncProgress:
    """A `sync.ProgressCallback` drawing a bar with pages/s for a sync that reads at
    least `min_pages` pages. When the last page is read the bar gives way to a spinner
    while links and indexes are written (with `finishing`), until `close()`. Nothing at
    all unless `enabled` (default: on a terminal)."""

    def __init__(self, label: str, *, enabled: bool | None = None,
                 min_pages: int = PROGRESS_MIN_PAGES, finishing: bool = True) -> None:
        self.label = label
        self.enabled = interactive() if enabled is None else enabled
        self.min_pages = min_pages
        self.finishing = finishing
        self._bar: Any = None
        self._task: Any = None
        self._status: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if total < self.min_pages or done >= total:
                return
            self._start(total)
        self._bar.update(self._task, completed=done, total=total)
        if done >= total:
            self.close()
            if self.finishing:
                self._status = _console().status(
                    f"{self.label}: writing links and the search index…", spinner="dots")
                self._status.start()

    def _start(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class PagesPerSecond(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:,.0f} pages/s" if speed else "… pages/s")

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             MofNCompleteColumn(), PagesPerSecond(), TimeRemainingColumn(),
                             console=_console(), transient=True)
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __enter__(self) -> SyncProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def spinner(message: str, *, enabled: bool | None = None) -> Iterator[None]:
    """A spinner with `message` while the block runs, on a terminal only."""
    if not (interactive() if enabled is None else enabled):
        yield
        return
    with _console().status(message, spinner="dots"):
        yield
