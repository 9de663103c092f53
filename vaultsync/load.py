"""One page from disk to records: read it (never hanging on a FIFO, never reading past
the size limit), hash it, and parse it unless its bytes are the ones the mirror has.
Runs in the syncing process or in the parsing processes (workers.py); never raises.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
import re
import stat as stat_mod
from enum import Enum
from typing import NamedTuple

from .parse import ParsedPage, ParseOptions, Problem, decode_page, parse_page
from .scan import NOT_A_FILE, FileStat, file_stat

BINARY_SNIFF_BYTES = 8192
_LONE_CR = re.compile(r"\r(?!\n)")


class LoadStatus(Enum):
    """What reading one page found."""

    PARSED = "parsed"  # new bytes, parsed
    SAME = "same"  # the bytes the mirror has: not parsed
    SKIPPED = "skipped"  # not indexed (binary, too large, unreadable): see its problem
    GONE = "gone"  # vanished before it could be read


class Loaded(NamedTuple):
    """One page read from disk."""

    path: str
    status: LoadStatus
    stat: FileStat | None = None
    hash: str | None = None
    parsed: ParsedPage | None = None
    problems: list[Problem] = []


def _skipped(path: str, message: str, stat: FileStat | None = None) -> Loaded:
    return Loaded(path, LoadStatus.SKIPPED, stat, problems=[Problem(None, message, "error")])


def load_page(vault: str, rel: str, known_hash: str | None, max_bytes: int,
              options: ParseOptions) -> Loaded:
    """Read, hash and parse one page. Never raises: every failure is a status or a problem."""
    try:
        # O_NONBLOCK: a FIFO named like a page must not hang the sync.
        fd = os.open(os.path.join(vault, rel), os.O_RDONLY | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                return _skipped(rel, NOT_A_FILE, file_stat(st))
            if st.st_size > max_bytes:
                return _skipped(rel, f"skipped: {st.st_size} bytes is over the "
                                     f"{max_bytes}-byte page limit", file_stat(st))
            data = _read_to_end(fd, st.st_size)
        finally:
            os.close(fd)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return Loaded(rel, LoadStatus.GONE)
    except OSError as exc:
        return _skipped(rel, f"skipped: cannot read ({exc.strerror or exc})")
    stat = file_stat(st)
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return _skipped(rel, "skipped: binary content (NUL bytes) in a .md file", stat)
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if digest == known_hash:
        return Loaded(rel, LoadStatus.SAME, stat, digest)
    text, decode_problem = decode_page(data)
    if "\r" in text:
        text = _LONE_CR.sub("\n", text)  # classic Mac line endings: one line each
    try:
        parsed = parse_page(rel, text, options)
    except Exception as exc:  # a parser bug must not drop the page or stop the daemon
        stem = os.path.splitext(os.path.basename(rel))[0]
        parsed = ParsedPage(stem, None, False, {}, text, problems=[Problem(
            None, f"parser failed ({type(exc).__name__}: {exc}); indexed as plain text", "error")])
    problems = ([decode_problem] if decode_problem else []) + parsed.problems
    return Loaded(rel, LoadStatus.PARSED, stat, digest, parsed, problems)


def _read_to_end(fd: int, size: int) -> bytes:
    """The file's bytes: `size` of them in one call, then whatever it grew by. (os.read
    on the descriptor: a file object around it costs as much again as the read.)"""
    data = os.read(fd, size + 1)
    if not data:
        return data
    more = os.read(fd, 1 << 20)
    if not more:
        return data
    parts = [data, more]
    while more:
        more = os.read(fd, 1 << 20)
        parts.append(more)
    return b"".join(parts)


LoadWork = tuple[str, list[tuple[str, str | None]], int, ParseOptions]


def load_batch(work: LoadWork) -> list[Loaded]:
    vault, items, max_bytes, options = work
    gc.disable()  # a short-lived parsing process: no cycles worth collecting
    return [load_page(vault, rel, known, max_bytes, options) for rel, known in items]


def load_batch_pickled(work: LoadWork) -> bytes:
    """load_batch in a parsing process, its pages pickled for the writer (unpickle
    with pickle.loads). Pickle's memo, which finds objects shared or met twice, is
    turned off: parsed pages share nothing worth finding, and the memo is half the
    cost of pickling them both ways (0.78 → 0.38 s for 10,000 pages). A structure
    that refers to itself (none should reach here) is pickled the usual way."""
    loaded = load_batch(work)
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        pickler.fast = True  # documented, and deprecated: a later Python may drop it
        pickler.dump(loaded)
    except (AttributeError, ValueError, RecursionError):  # no fast mode, or a cycle
        return pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()
