"""The mirror converges: after any sequence of edits, renames and deletes it equals
a fresh full sync of the same files, whether each change was synced by a full scan
(`vaultsync sync`) or by the paths a watcher reports (`vaultsync watch`)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from conftest import fresh_dump
from hypothesis import given
from hypothesis import strategies as st

from vaultsync.config import load_config
from vaultsync.mirror import Mirror
from vaultsync.read import dump
from vaultsync.sync import Syncer

NAMES = ["Alpha", "beta", "Gamma", "alpha", "delta"]  # "Alpha"/"alpha": case-insensitive twins
FOLDERS = ["", "concepts", "sources", "concepts/deep", "systems"]
ATTACHMENTS = ["img.png", "concepts/img.png"]
CANVASES = ["board.canvas", "concepts/map.canvas"]
OUTSIDE = "<outside>"  # a folder beside the vault, with pages of its own

link_forms = st.sampled_from([
    "[[{n}]]", "[[{n}|shown]]", "[[{n}#Sec]]", "![[{n}]]", "[[{f}/{n}]]", "[x]({n}.md)",
    "[x](../{n}.md)", "[x](./{n}.md)", "![[img.png]]", "[[#Self]]", "`[[{n}]]`",
    "[[{n}#^blk]]", "[[{n}#Heading#Sec]]", "[[{n}#Nowhere]]",
])
# Blocks a page may hold besides its links: headings that anchors name, tasks, block
# ids and Dataview fields.
extras = st.sampled_from([
    "## Sec\n", "- [ ] open task\n", "- [x] done task ^blk\n", "Para text. ^blk\n",
    "status:: draft\n", "Due [due:: soon].\n", "> - [-] dropped\n",
])


@st.composite
def page_text(draw: st.DrawFn) -> str:
    links = draw(st.lists(st.tuples(link_forms, st.sampled_from(NAMES),
                                    st.sampled_from(FOLDERS[1:])), max_size=4))
    body = " ".join(form.format(n=n, f=f) for form, n, f in links)
    header = draw(st.sampled_from(["", "---\ntype: source\n---\n", "---\ntitle: T\n---\n",
                                   "---\nbad: [\n---\n", "---\ntags: [a]\n---\n"]))
    more = "".join(draw(st.lists(extras, max_size=3)))
    return header + "# Heading\n" + body + "\n\n" + more


@st.composite
def canvas_bytes(draw: st.DrawFn) -> bytes:
    """A JSON Canvas whose file nodes and text nodes name pages that may or may not
    exist; sometimes not JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return b'{"nodes": [ broken'
    nodes = []
    for i, (kind, name, folder) in enumerate(draw(st.lists(st.tuples(
            st.sampled_from(["file", "text", "group"]), st.sampled_from(NAMES),
            st.sampled_from(FOLDERS)), max_size=4))):
        node = {"id": f"n{i}", "type": kind, "x": i * 300, "y": 0, "width": 250, "height": 60}
        if kind == "file":
            node["file"] = f"{folder}/{name}.md" if folder else f"{name}.md"
        elif kind == "text":
            node["text"] = f"See [[{name}]] and [[{name}#Sec]]"
        else:
            node["label"] = name
        nodes.append(node)
    edges = [{"id": f"e{i}", "fromNode": f"n{i}", "toNode": f"n{i + 1}"}
             for i in range(len(nodes) - 1)]
    return json.dumps({"nodes": nodes, "edges": edges}).encode()


page_path = st.builds(lambda f, n: f"{f}/{n}.md" if f else f"{n}.md",
                      st.sampled_from(FOLDERS), st.sampled_from(NAMES))

operations = st.one_of(
    st.tuples(st.just("write"), page_path, page_text()),
    st.tuples(st.just("binary"), page_path, st.none()),  # a page skipped, links still name it
    st.tuples(st.just("symlink"), st.sampled_from(["l1", "concepts/l2"]),
              st.sampled_from([".", "../outside", "concepts", OUTSIDE, "nowhere"])),
    st.tuples(st.just("unlink"), st.sampled_from(["l1", "concepts/l2"]), st.none()),
    st.tuples(st.just("delete"), page_path, st.none()),
    st.tuples(st.just("rename"), page_path, page_path),
    st.tuples(st.just("move_folder"), st.sampled_from(FOLDERS[1:]), st.sampled_from(FOLDERS[1:])),
    st.tuples(st.just("attach"), st.sampled_from(ATTACHMENTS), st.binary(max_size=8)),
    st.tuples(st.just("detach"), st.sampled_from(ATTACHMENTS + CANVASES), st.none()),
    st.tuples(st.just("attach"), st.sampled_from(CANVASES), canvas_bytes()),
)


def apply(vault: Path, op: tuple) -> list[str]:
    """Do one file operation; return the paths a watcher would report."""
    kind, a, b = op
    src = vault / a
    if kind == "write":
        src.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            return []
        src.write_text(b, encoding="utf-8")
        return [a]
    if kind == "binary":
        src.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            return []
        src.write_bytes(b"\x00binary")
        return [a]
    if kind == "symlink":
        if os.path.lexists(src) or not src.parent.is_dir():
            return []
        target = str(vault.parent / "outside") if b == OUTSIDE else b
        os.symlink(target, src)
        return [a]
    if kind == "unlink":
        if not src.is_symlink():
            return []
        src.unlink()
        return [a]
    if kind == "attach":
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(b)
        return [a]
    if kind in ("delete", "detach"):
        if src.is_file():
            src.unlink()
        return [a]
    if kind == "rename":
        dst = vault / b
        if not src.is_file() or a == b or dst.exists() or dst.is_relative_to(src):
            return []
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src, dst)
        return [a, b]
    if kind == "move_folder":
        dst = vault / b
        if not src.is_dir() or a == b or dst.exists() or dst.is_relative_to(src):
            return []
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src, dst)
        return [a, b]  # folder events only: the files inside are not reported
    raise AssertionError(kind)


@given(ops=st.lists(operations, min_size=1, max_size=14), by_paths=st.booleans(),
       one_syncer=st.booleans())
def test_mirror_equals_fresh_sync_after_any_changes(ops, by_paths, one_syncer):
    root = Path(tempfile.mkdtemp())
    try:
        vault = root / "vault"
        vault.mkdir()
        outside = root / "outside"
        (outside / "deep").mkdir(parents=True)
        (outside / "Gamma.md").write_text("# Outside gamma\n[[beta#Sec]]\n## Sec\n")
        (outside / "deep" / "delta.md").write_text("- [ ] outside task ^blk\n")
        # The vault's links may lead into `outside` (the fresh sync's config too).
        (root / "vaultsync.toml").write_text(f'follow_symlinks_outside = ["{outside}"]\n')
        os.environ["VAULTSYNC_CONFIG"] = str(root / "vaultsync.toml")
        config = load_config(vault, root / "mirror.db")
        mirror = Mirror(config.db)
        syncer = Syncer(config, mirror, workers=1)
        syncer.sync()
        for op in ops:
            changed = apply(vault, op)
            if not one_syncer:
                syncer = Syncer(config, mirror, workers=1)
            syncer.sync(changed if by_paths else None)
        assert dump(mirror.conn) == fresh_dump(vault, root)
        mirror.conn.execute("INSERT INTO pages_fts(pages_fts) VALUES ('integrity-check')")
        mirror.close()
    finally:
        os.environ.pop("VAULTSYNC_CONFIG", None)
        shutil.rmtree(root)
