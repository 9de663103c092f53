"""The sync's picture of the vault (`VaultIndex`) stays in step with the mirror's rows:
after any sequence of edits, renames, deletes, skipped pages and attachments, the
pages, attachments, skipped files and problem paths it holds are what a fresh read of
the mirror gives, and its resolver names exactly those files."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from vaultsync.config import load_config
from vaultsync.index import VaultIndex
from vaultsync.mirror import Mirror
from vaultsync.sync import Syncer

NAMES = ["Alpha", "alpha", "beta", "Gamma"]  # "Alpha"/"alpha": case-insensitive twins
FOLDERS = ["", "concepts", "sources"]

page_path = st.builds(lambda f, n: f"{f}/{n}.md" if f else f"{n}.md",
                      st.sampled_from(FOLDERS), st.sampled_from(NAMES))
page_text = st.builds(lambda n, twin: f"# {n}\n[[{n}]] [[{twin}]] ![[img.png]]\n",
                      st.sampled_from(NAMES), st.sampled_from(NAMES))
operations = st.one_of(
    st.tuples(st.just("write"), page_path, page_text),
    st.tuples(st.just("binary"), page_path, st.none()),  # skipped: links still name it
    st.tuples(st.just("bad name"), st.sampled_from(["con.md", "a:b.md"]), page_text),
    st.tuples(st.just("dead link"), page_path, st.none()),  # a symlink to nothing: blocked
    st.tuples(st.just("delete"), page_path, st.none()),
    st.tuples(st.just("rename"), page_path, page_path),
    st.tuples(st.just("attach"), st.sampled_from(["img.png", "concepts/img.png"]),
              st.binary(max_size=4)),
    st.tuples(st.just("delete"), st.sampled_from(["img.png", "concepts/img.png"]), st.none()),
)


def apply(vault: Path, op: tuple[str, str, str | bytes | None]) -> list[str]:
    """Do one file operation; the paths a watcher would report."""
    kind, a, b = op
    src = vault / a
    src.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink() and kind != "delete":
        return []
    if kind in ("write", "bad name"):
        assert isinstance(b, str)
        src.write_text(b, encoding="utf-8")
    elif kind == "binary":
        src.write_bytes(b"\x00binary")
    elif kind == "attach":
        assert isinstance(b, bytes)
        src.write_bytes(b)
    elif kind == "dead link":
        if src.exists():
            return []
        os.symlink("nowhere.md", src)
    elif kind == "delete":
        if os.path.lexists(src):
            src.unlink()
    elif kind == "rename":
        assert isinstance(b, str)
        dst = vault / b
        if not src.is_file() or os.path.lexists(dst):
            return []
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src, dst)
        return [a, b]
    return [a]


def assert_in_step(index: VaultIndex, mirror: Mirror) -> None:
    rows = VaultIndex.of(mirror)
    assert index.pages == rows.pages
    # An attachment's row id is never used by the sync, so it is not kept.
    assert {p: s.stat for p, s in index.attachments.items()} == \
        {p: s.stat for p, s in rows.attachments.items()}
    assert index.skipped == rows.skipped
    assert index.problem_paths == rows.problem_paths
    named = {*index.pages, *index.attachments, *index.skipped}
    assert all(path in index.resolver for path in named)
    assert len(index.resolver) == len(named)


@given(ops=st.lists(operations, min_size=1, max_size=10), by_paths=st.booleans())
def test_the_index_follows_the_rows_after_any_changes(ops, by_paths):
    root = Path(tempfile.mkdtemp())
    try:
        vault = root / "vault"
        vault.mkdir()
        (vault / "beta.md").write_text("# Beta\n[[Alpha]]\n", encoding="utf-8")
        with Mirror(root / "mirror.db") as mirror:
            syncer = Syncer(load_config(vault, root / "mirror.db"), mirror, workers=1)
            syncer.sync()
            assert_in_step(syncer.index, mirror)
            for op in ops:
                changed = apply(vault, op)
                syncer.sync(changed if by_paths else None)
                assert_in_step(syncer.index, mirror)
    finally:
        shutil.rmtree(root)


def test_a_rename_moves_the_row_id_and_the_name(make_vault, config_for, tmp_path):
    vault = make_vault({"a.md": "# A\n", "b.md": "[[a]] [[c]]\n"})
    with Mirror(tmp_path / "mirror.db") as mirror:
        syncer = Syncer(config_for(vault), mirror, workers=1)
        syncer.sync()
        page_id = syncer.index.pages["a.md"].id
        os.rename(vault / "a.md", vault / "c.md")
        report = syncer.sync(["a.md", "c.md"])
        assert report.renamed == 1
        assert syncer.index.pages["c.md"].id == page_id
        assert "a.md" not in syncer.index.pages and "a.md" not in syncer.index.resolver
        assert syncer.index.resolver.resolve("c", "b.md") == "c.md"
        assert syncer.index.resolver.resolve("a", "b.md") is None
        assert_in_step(syncer.index, mirror)
