"""Which files belong to the vault and how a change is noticed: file identity, names
that are not UTF-8, symlinks, FIFOs and old Mac line endings. Each case is synced
for real and checked against a fresh sync of the same files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import db_dump, fresh_dump, rows

from vaultsync import scan
from vaultsync.config import load_config
from vaultsync.mirror import Mirror
from vaultsync.read import dump
from vaultsync.sync import Syncer, sync_vault

BAD = os.fsdecode(b"bad\xff.md")


def sync(vault: Path, db: Path):
    return sync_vault(load_config(vault, db), workers=1)


def links(db: Path) -> set[tuple[str, str]]:
    return set(rows(db, "SELECT p.path, l.target FROM links l JOIN pages p ON p.id = l.source_id"))


def problems(db: Path) -> dict[str, str]:
    return dict(rows(db, "SELECT path, message FROM problems"))


def test_a_file_replaced_by_one_of_the_same_size_and_mtime_is_noticed(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A\n[[alpha]]\n", "b.md": "# B\n[[bravo]]\n"})
    for name in ("a.md", "b.md"):
        os.utime(vault / name, ns=(1_704_067_200_000_000_000,) * 2)  # 2024-01-01
    db = tmp_path / "m.db"
    sync(vault, db)
    (vault / "b.md").rename(vault / "a.md")  # same size, same mtime, another inode
    sync(vault, db)
    assert links(db) == {("a.md", "bravo")}
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_an_edit_that_keeps_size_and_sets_the_mtime_back_is_noticed(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A\n[[alpha]]\n"})
    page = vault / "a.md"
    os.utime(page, ns=(1_704_067_200_000_000_000,) * 2)
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        syncer = Syncer(load_config(vault, db), mirror, workers=1)
        syncer.sync()
        # An archive tool writes new bytes and restores the old mtime: only the ctime
        # (which nobody can set back) and the bytes differ.
        page.write_text("# A\n[[omega]]\n")
        os.utime(page, ns=(1_704_067_200_000_000_000,) * 2)
        syncer.sync()
        syncer.sync()  # a second pass that believes the stat must not undo it
    assert links(db) == {("a.md", "omega")}


def test_a_mirror_of_schema_1_hashes_each_page_once_and_parses_none(make_vault, tmp_path):
    vault = make_vault({"a.md": "[[b]]", "b.md": "x"})
    db = tmp_path / "m.db"
    sync(vault, db)
    with Mirror(db) as mirror:  # forget the identities, as a version-1 mirror has none
        with mirror.transaction():
            mirror.conn.execute("UPDATE pages SET ctime_ns = NULL, inode = NULL")
    report = sync(vault, db)
    assert report.updated == 0 and report.unchanged == 2
    assert rows(db, "SELECT count(*) FROM pages WHERE inode IS NULL") == [(0,)]


def test_a_name_that_is_not_utf8_is_one_problem_and_the_rest_syncs(make_vault, tmp_path):
    vault = make_vault({"ok.md": "# ok\n[[other]]", "other.md": "# other"})
    Path(os.path.join(vault, BAD)).write_text("# bad")
    Path(os.path.join(vault, os.fsdecode(b"img\xfe.png"))).write_bytes(b"png")
    folder = Path(os.path.join(vault, os.fsdecode(b"dir\xfd")))
    folder.mkdir()
    (folder / "inside.md").write_text("# inside")
    db = tmp_path / "m.db"
    report = sync(vault, db)
    assert report.pages == 2
    found = problems(db)
    assert set(found) == {"bad\\xff.md", "img\\xfe.png", "dir\\xfd"}
    assert all("not valid UTF-8" in message for message in found.values())
    assert db_dump(db) == fresh_dump(vault, tmp_path)
    assert not sync(vault, db).changed  # the same bad names again: nothing to write
    os.rename(os.path.join(vault, BAD), vault / "good.md")
    sync(vault, db)
    assert "good.md" in dict(rows(db, "SELECT path, title FROM pages"))
    assert "bad\\xff.md" not in problems(db)
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_fifos_and_dangling_symlinks_are_problems(make_vault, tmp_path):
    vault = make_vault({"ok.md": "# ok"})
    os.mkfifo(vault / "pipe.md")
    os.symlink("nowhere.md", vault / "dangling.md")
    db = tmp_path / "m.db"
    sync(vault, db)
    found = problems(db)
    assert set(found) == {"pipe.md", "dangling.md"}
    assert "not a regular file" in found["pipe.md"] and "broken symlink" in found["dangling.md"]
    (vault / "pipe.md").unlink()
    (vault / "dangling.md").unlink()
    sync(vault, db)
    assert problems(db) == {}


def test_lone_cr_line_endings_are_line_breaks(make_vault, tmp_path):
    vault = make_vault({"mac.md": b"# Old Mac\r\rSee [[other]]\r"})
    db = tmp_path / "m.db"
    sync(vault, db)
    assert rows(db, "SELECT text, line FROM headings") == [("Old Mac", 1)]
    assert rows(db, "SELECT target, line FROM links") == [("other", 3)]


def test_symlink_loops_are_not_followed(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A", "sub/b.md": "# B"})
    os.symlink(".", vault / "l1")
    os.symlink(".", vault / "l2")
    os.symlink("..", vault / "sub" / "up")
    db = tmp_path / "m.db"
    report = sync(vault, db)
    assert report.pages == 2
    assert set(problems(db)) == {"l1", "l2", "sub/up"}
    assert all("not followed" in m for m in problems(db).values())
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def allow_outside(monkeypatch, tmp_path: Path, *folders: Path | str) -> Path:
    """Settings that let the vault's symlinks lead into `folders`, for every config
    loaded from now on (fresh_dump's too)."""
    settings = tmp_path / "vaultsync.toml"
    listed = ", ".join(f'"{folder}"' for folder in folders)
    settings.write_text(f"follow_symlinks_outside = [{listed}]\n")
    monkeypatch.setenv("VAULTSYNC_CONFIG", str(settings))
    return settings


def test_a_symlinked_folder_outside_the_vault_is_followed_once(make_vault, tmp_path,
                                                              monkeypatch):
    allow_outside(monkeypatch, tmp_path, tmp_path / "shared")
    outside = tmp_path / "shared"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "s.md").write_text("# Shared\n[[a]]")
    os.symlink(str(outside), outside / "deep" / "loop")  # a loop outside the vault
    vault = make_vault({"a.md": "# A\n[[s]]", "notes/n.md": "# N"})
    os.symlink(str(outside), vault / "ext")
    os.symlink(str(outside), vault / "ext2")  # the same folder a second time
    os.symlink("notes", vault / "inside")  # a folder the vault holds already
    db = tmp_path / "m.db"
    sync(vault, db)
    pages = {p for (p,) in rows(db, "SELECT path FROM pages")}
    assert pages == {"a.md", "notes/n.md", "ext/deep/s.md"}
    assert set(problems(db)) == {"ext2", "inside", "ext/deep/loop"}
    assert rows(db, "SELECT target_path FROM links l JOIN pages p ON p.id = l.source_id "
                    "WHERE p.path = 'a.md'") == [("ext/deep/s.md",)]
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_partial_syncs_agree_with_the_full_walk_on_symlinks(make_vault, tmp_path,
                                                           monkeypatch):
    allow_outside(monkeypatch, tmp_path, tmp_path / "shared")
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "s.md").write_text("# S")
    vault = make_vault({"a.md": "# A", "notes/n.md": "# N"})
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        syncer = Syncer(load_config(vault, db), mirror, workers=1)
        syncer.sync()
        os.symlink(str(outside), vault / "ext")
        syncer.sync(["ext"])  # a new link: only a full walk may judge it
        assert dump(mirror.conn) == fresh_dump(vault, tmp_path)
        (outside / "t.md").write_text("# T")
        syncer.sync(["ext/t.md"])
        os.symlink("notes", vault / "dup")
        syncer.sync(["dup/n.md", "dup"])  # a path through a link that is not followed
        assert dump(mirror.conn) == fresh_dump(vault, tmp_path)
        (vault / "ext").unlink()
        syncer.sync(["ext"])
        assert dump(mirror.conn) == fresh_dump(vault, tmp_path)


def test_symlinks_out_of_the_vault_are_not_followed_unless_allowed(make_vault, tmp_path,
                                                                   monkeypatch):
    outside = tmp_path / "home"
    (outside / "notes").mkdir(parents=True)
    (outside / "creds.txt").write_text("password: hunter2\n")
    (outside / "notes" / "private.md").write_text("# Private\n")
    vault = make_vault({"a.md": "# A\n[[creds]] [[private]]"})
    os.symlink(outside / "creds.txt", vault / "creds.md")
    os.symlink(outside / "notes", vault / "notes")
    db = tmp_path / "m.db"
    report = sync(vault, db)
    assert report.pages == 1
    assert rows(db, "SELECT path FROM attachments") == []
    assert "hunter2" not in str(db_dump(db))
    found = problems(db)
    assert set(found) == {"creds.md", "notes"}
    for name, target in (("creds.md", outside / "creds.txt"), ("notes", outside / "notes")):
        assert f"symlink to {target}: not followed, it leads outside the vault" in found[name]
        assert "follow_symlinks_outside" in found[name]
    assert db_dump(db) == fresh_dump(vault, tmp_path)

    # Allowed by the settings (a folder above the targets, here relative to the vault
    # folder), both are indexed.
    allow_outside(monkeypatch, tmp_path, "../home")
    report = sync_vault(load_config(vault, db), workers=1)
    assert {p for (p,) in rows(db, "SELECT path FROM pages")} == {
        "a.md", "creds.md", "notes/private.md"}
    assert problems(db) == {}
    assert db_dump(db) == fresh_dump(vault, tmp_path)
    # Allowed only one of them: the other is a problem again.
    allow_outside(monkeypatch, tmp_path, outside / "notes")
    sync_vault(load_config(vault, db), workers=1)
    assert set(problems(db)) == {"creds.md"}
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_pseudo_filesystems_are_never_entered_even_when_allowed(make_vault, tmp_path,
                                                                monkeypatch):
    allow_outside(monkeypatch, tmp_path, "/")  # everything outside the vault, but these
    vault = make_vault({"a.md": "# A"})
    os.symlink("/proc", vault / "x")
    os.symlink("/sys", vault / "s")
    os.symlink("/dev", vault / "d")
    os.symlink("/proc/self/status", vault / "status.md")
    os.symlink("/proc/self/root", vault / "root")  # a way into the whole file system
    os.symlink(vault / "root", tmp_path / "hop")
    os.symlink(tmp_path / "hop", vault / "hops")  # ... and one through another link
    db = tmp_path / "m.db"
    report = sync(vault, db)
    assert report.pages == 1
    assert rows(db, "SELECT count(*) FROM attachments") == [(0,)]
    found = problems(db)
    assert set(found) == {"x", "s", "d", "status.md", "root", "hops"}
    for name in found:
        assert "never followed, it is a kernel pseudo-filesystem" in found[name]


def test_a_tree_followed_outside_the_vault_is_bounded(make_vault, tmp_path, monkeypatch):
    deep = tmp_path / "deep"
    folder = deep
    for i in range(scan.MAX_OUTSIDE_DEPTH + 5):
        folder = folder / f"d{i}"
    folder.mkdir(parents=True)
    (deep / "d0" / "top.md").write_text("# Top")
    (folder / "bottom.md").write_text("# Bottom")
    wide = tmp_path / "wide"
    wide.mkdir()
    for i in range(60):
        (wide / f"w{i:02}.md").write_text(f"# W{i}")
    loops = tmp_path / "loops"
    (loops / "a").mkdir(parents=True)
    (loops / "a" / "l.md").write_text("# L")
    os.symlink(loops, loops / "a" / "again")  # loops outside the vault stay bounded
    os.symlink("..", loops / "a" / "up")
    allow_outside(monkeypatch, tmp_path, deep, wide, loops)
    # A lower bound than the documented one, so that the test stays small.
    monkeypatch.setattr(scan, "MAX_OUTSIDE_ENTRIES", 50)
    vault = make_vault({"a.md": "# A"})
    for name in ("deep", "wide", "loops"):
        os.symlink(tmp_path / name, vault / name)
    db = tmp_path / "m.db"
    sync(vault, db)
    pages = {p for (p,) in rows(db, "SELECT path FROM pages")}
    assert "deep/d0/top.md" in pages
    assert not any(p.endswith("bottom.md") for p in pages)
    assert len([p for p in pages if p.startswith("wide/")]) == 50
    assert {p for p in pages if p.startswith("loops/")} == {"loops/a/l.md"}
    found = problems(db)
    assert f"more than {scan.MAX_OUTSIDE_DEPTH} folders deep" in found["deep"]
    assert "more than 50 entries" in found["wide"]
    assert set(found) == {"deep", "wide", "loops/a/again", "loops/a/up"}
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_ignored_names_are_neither_pages_nor_attachments(make_vault, tmp_path):
    vault = make_vault({
        "note.md": "# Note\n",
        "note.md~": "backup",
        "draft.md.tmp": "# temp\n",
        "4913": "",
        "#note.md#": "emacs",
        "kept.md.tmp.md": "# Kept\n",  # only the whole name is matched
        ".hidden.md": "# Hidden\n",
    })
    settings = tmp_path / "vaultsync.toml"
    settings.write_text('ignore = ["*.md~", "*.tmp"]\n')
    db = tmp_path / "m.db"
    sync_vault(load_config(vault, db, settings), workers=1)
    assert set(rows(db, "SELECT path FROM pages")) == {("note.md",), ("kept.md.tmp.md",)}
    # "4913" and "#note.md#" are ignored only by the default list this file replaced
    assert set(rows(db, "SELECT path FROM attachments")) == {("4913",), ("#note.md#",)}


def test_pages_past_the_systems_path_limit_are_problems(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A"})
    # A chain of folders made relative to a folder descriptor, until the path is longer
    # than PATH_MAX (4096): the deepest can be reached only that way.
    name = "d" * 200
    chain: list[str] = []
    fd = os.open(vault, os.O_RDONLY)
    try:
        while len(os.path.join(vault, *chain)) < 4096 + 2 * len(name):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
            chain.append(name)
            page = os.open("p.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(page, b"# P\n[[a]]\n")
            os.close(page)
    finally:
        os.close(fd)
    on_disk = {"/".join(chain[:i]) + "/p.md" for i in range(1, len(chain) + 1)}
    db = tmp_path / "m.db"
    sync(vault, db)
    indexed = {p for (p,) in rows(db, "SELECT path FROM pages")}
    found = problems(db)
    assert "a.md" in indexed and len(indexed) > 10  # the pages within the limit
    missing = on_disk - indexed
    assert missing
    # Each page left out is a problem row, itself or through its folder.
    for page in missing:
        assert any(page == p or page.startswith(p + "/") for p in found), page
    assert any("File name too long" in message for message in found.values())
    assert db_dump(db) == fresh_dump(vault, tmp_path)
    assert not sync(vault, db).changed


# Drops the two capabilities that let root read any file (CAP_DAC_OVERRIDE and
# CAP_DAC_READ_SEARCH), then runs the CLI: as root, `chmod 000` blocks only a process
# without them. The owner keeps its other rights (the test's folders are root's).
AS_ROOT_WITHOUT_READ_ALL = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]
header, data = Header(0x20080522, 0), (Data * 2)()
if libc.capget(ctypes.byref(header), data) != 0:
    sys.exit("capget failed")
data[0].effective &= ~0b110
data[0].permitted &= ~0b110
if libc.capset(ctypes.byref(header), data) != 0:
    sys.exit("capset failed")
from vaultsync.cli import cli
cli(sys.argv[1:])
"""


def test_a_folder_or_page_that_cannot_be_read_is_a_problem(make_vault, tmp_path):
    vault = make_vault({"a.md": "# A\n[[locked]] [[inside]]", "closed/inside.md": "# In",
                        "closed/img.png": "png", "locked.md": "# Locked"})
    os.chmod(vault / "closed", 0)
    os.chmod(vault / "locked.md", 0)
    db = tmp_path / "m.db"
    try:
        command = ["sync", str(vault), "--db", str(db), "--workers", "1", "-q"]
        if os.geteuid() == 0:
            command = ["-c", AS_ROOT_WITHOUT_READ_ALL, *command]
        else:
            command = ["-m", "vaultsync", *command]
        done = subprocess.run([sys.executable, *command], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert rows(db, "SELECT path FROM pages") == [("a.md",)]
        found = problems(db)
        assert set(found) == {"closed", "locked.md"}
        assert "cannot read this folder (Permission denied)" in found["closed"]
        assert "cannot read (Permission denied)" in found["locked.md"]
    finally:
        os.chmod(vault / "closed", 0o755)
        os.chmod(vault / "locked.md", 0o644)
    sync(vault, db)  # readable again: indexed, and the rows go
    assert {p for (p,) in rows(db, "SELECT path FROM pages")} == {
        "a.md", "closed/inside.md", "locked.md"}
    assert problems(db) == {}
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def edit_in_place(path: Path, text: str) -> None:
    """Write new bytes into the same inode, as an editor that does not save atomically."""
    with open(path, "r+", encoding="utf-8") as fh:
        fh.truncate(0)
        fh.write(text)


def test_an_edit_reaches_every_name_of_a_hard_linked_file(make_vault, tmp_path):
    vault = make_vault({"hard-a.md": "# Old\n[[x]]", "notes/other.md": "# Other",
                        "img.png": "one"})
    os.link(vault / "hard-a.md", vault / "notes" / "hard-b.md")
    os.link(vault / "img.png", vault / "notes" / "img2.png")
    db = tmp_path / "m.db"
    with Mirror(db) as mirror:
        syncer = Syncer(load_config(vault, db), mirror, workers=1)
        syncer.sync()
        # The daemon's way: a batch naming only the name that was written.
        edit_in_place(vault / "hard-a.md", "---\ntitle: New title\n---\n[[y]]")
        syncer.sync(["hard-a.md"])
        assert set(rows(db, "SELECT path, title FROM pages WHERE path LIKE '%hard%'")) == {
            ("hard-a.md", "New title"), ("notes/hard-b.md", "New title")}
        edit_in_place(vault / "notes" / "img2.png", "two, longer")
        syncer.sync(["notes"])  # a folder event
        assert dump(mirror.conn) == fresh_dump(vault, tmp_path)
        # `sync`'s way: the whole vault.
        edit_in_place(vault / "notes" / "hard-b.md", "---\ntitle: Third\n---\n")
        syncer.sync()
        assert set(rows(db, "SELECT title FROM pages WHERE path LIKE '%hard%'")) == {
            ("Third",)}
        assert dump(mirror.conn) == fresh_dump(vault, tmp_path)
