"""Canvases: JSON Canvas files read into canvases, canvas_nodes, canvas_edges and
canvas_links; their references resolved like links, kept live by the daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import (
    RunningDaemon,
    copy_fixture_mirror,
    db_dump,
    fresh_dump,
    rows,
    wait_converged,
    wait_for,
)

from vaultsync import read
from vaultsync.config import load_config
from vaultsync.mirror import SCHEMA_VERSION
from vaultsync.parse.canvas import CanvasEdge, CanvasNode, CanvasRef, parse_canvas
from vaultsync.sync import sync_vault

DATA = Path(__file__).resolve().parent / "data"

BOARD = {
    "nodes": [
        {"id": "g", "type": "group", "x": -50, "y": -50, "width": 900, "height": 500,
         "label": "Streaming", "color": "4"},
        {"id": "f", "type": "file", "file": "concepts/Kafka.md", "subpath": "#Partitions",
         "x": 0, "y": 0, "width": 400, "height": 300},
        {"id": "t", "type": "text", "text": "Compare [[Flink|the engine]] and `[[not]]`",
         "x": 500, "y": 0, "width": 250, "height": 60, "color": "#ff0000"},
        {"id": "u", "type": "link", "url": "https://kafka.apache.org", "x": 500, "y": 100,
         "width": 250, "height": 60},
        {"id": "img", "type": "file", "file": "pic.png", "x": 0, "y": 320, "width": 100,
         "height": 100},
        {"id": "gone", "type": "file", "file": "Nowhere.md", "x": 0, "y": 440, "width": 100,
         "height": 100},
    ],
    "edges": [
        {"id": "e1", "fromNode": "t", "fromSide": "left", "toNode": "f", "toSide": "right",
         "toEnd": "arrow", "label": "uses", "color": "2"},
    ],
}


def board(**changes: object) -> str:
    return json.dumps({**BOARD, **changes})


# --- reading a canvas -----------------------------------------------------------------


def test_nodes_edges_and_references_of_a_canvas():
    canvas = parse_canvas("b.canvas", board().encode())
    assert canvas.problems == []
    assert canvas.nodes[1] == CanvasNode("f", "file", 0, 0, 400, 300, None, None, None,
                                         "concepts/Kafka.md", "#Partitions", None)
    assert canvas.nodes[0].label == "Streaming" and canvas.nodes[0].color == "4"
    assert canvas.nodes[3].url == "https://kafka.apache.org"
    assert canvas.edges == [CanvasEdge("e1", "t", "left", None, "f", "right", "arrow", "2",
                                       "uses")]
    assert canvas.refs == [
        CanvasRef("f", "concepts/Kafka.md", "Partitions", None, False, "file"),
        CanvasRef("t", "Flink", None, "the engine", False, "wikilink"),  # not in code
        CanvasRef("img", "pic.png", None, None, False, "file"),
        CanvasRef("gone", "Nowhere.md", None, None, False, "file"),
    ]


@pytest.mark.parametrize(("data", "message"), [
    (b'{"nodes": [', "not valid JSON"),
    (b"[1, 2]", "not an object"),
    (b'{"nodes": "\xff"}', "not valid UTF-8"),
    (b'{"nodes": {}}', "`nodes` is not a list"),
    (b'{"nodes": [3, {"type": "text"}]}', "is not an object with an id"),
    (b'{"nodes": [{"id": "a", "type": "text"}]}', "lacks a numeric x"),
    (b'{"nodes": [{"id": "a", "type": "blob", "x": 0, "y": 0, "width": 1, "height": 1}]}',
     "has type 'blob'"),
    (b'{"edges": [{"id": "e", "fromNode": "a", "toNode": "b"}]}', "joins no node 'a'"),
    (b'{"edges": [{"id": "e"}]}', "lacks an id, fromNode or toNode"),
    (b"[" * 100_000, "unreadable JSON"),
])
def test_a_malformed_canvas_is_read_as_far_as_it_can_be(data, message):
    canvas = parse_canvas("bad.canvas", data)
    assert any(message in p.message for p in canvas.problems), canvas.problems


def test_an_empty_canvas_has_no_rows_and_no_problem():
    assert parse_canvas("e.canvas", b"") == parse_canvas("e.canvas", b"{}")
    assert parse_canvas("e.canvas", b"{}").problems == []


# --- in the mirror --------------------------------------------------------------------


def test_canvases_in_the_mirror(tmp_path, make_vault):
    vault = make_vault({"boards/Streaming.canvas": board(), "concepts/Kafka.md": "## Partitions\n",
                        "Flink.md": "# Flink\n", "pic.png": b"png",
                        "broken.canvas": '{"nodes": [', "ok.md": "[[Nowhere]]"})
    db = tmp_path / "m.db"
    report = sync_vault(load_config(vault, db), workers=1)
    assert report.pages == 3  # a malformed canvas never stops the sync
    assert rows(db, "SELECT path, title, nodes, edges FROM canvases ORDER BY path") == [
        ("boards/Streaming.canvas", "Streaming", 6, 1), ("broken.canvas", "broken", 0, 0)]
    assert rows(db, "SELECT path FROM attachments ORDER BY path") == [
        ("boards/Streaming.canvas",), ("broken.canvas",), ("pic.png",)]
    assert rows(db, "SELECT node_id, form, target, target_path, target_id IS NOT NULL "
                    "FROM canvas_links ORDER BY id") == [
        ("f", "file", "concepts/Kafka.md", "concepts/Kafka.md", 1),
        ("t", "wikilink", "Flink", "Flink.md", 1),
        ("img", "file", "pic.png", "pic.png", 0),
        ("gone", "file", "Nowhere.md", None, 0)]
    assert rows(db, "SELECT path, message FROM problems")[0][0] == "broken.canvas"
    # Backlinks list a canvas's file nodes (Obsidian's backlinks pane does); text-node
    # links and canvases are no part of the page graph or of wanted pages.
    assert rows(db, "SELECT source_path, source_title, form, anchor FROM backlinks "
                    "WHERE target_path = 'concepts/Kafka.md'") == [
        ("boards/Streaming.canvas", "Streaming", "canvas", "Partitions")]
    assert rows(db, "SELECT target FROM wanted_pages") == [("Nowhere",)]
    assert rows(db, "SELECT count(*) FROM page_edges") == [(0,)]
    # A page's answer (the HTTP API, MCP, the plugin) lists the canvas among its backlinks.
    with read.open_mirror(db) as conn:
        backlinks = read.page(conn, "concepts/Kafka.md")["backlinks"]
    assert [(b["path"], b["form"], b["line"]) for b in backlinks] == [
        ("boards/Streaming.canvas", "canvas", None)]


def test_canvas_edits_and_the_files_it_names_keep_it_current(tmp_path, make_vault):
    vault = make_vault({"b.canvas": board(), "pic.png": b"png"})
    config = load_config(vault, tmp_path / "m.db")
    db = config.db
    sync_vault(config, workers=1)
    assert rows(db, "SELECT target_path FROM canvas_links WHERE node_id = 'f'") == [(None,)]
    (vault / "concepts").mkdir()
    (vault / "concepts" / "Kafka.md").write_text("# Kafka\n")  # the file node's page comes
    sync_vault(config, workers=1)
    assert rows(db, "SELECT target_path FROM canvas_links WHERE node_id = 'f'") == [
        ("concepts/Kafka.md",)]
    (vault / "Nowhere.md").write_text("x")
    (vault / "concepts" / "Kafka.md").rename(vault / "concepts" / "Kafka2.md")
    sync_vault(config, workers=1)
    assert rows(db, "SELECT node_id, target_path FROM canvas_links WHERE node_id IN "
                    "('f', 'gone') ORDER BY node_id") == [("f", None), ("gone", "Nowhere.md")]
    (vault / "b.canvas").write_text(board(edges=[]))  # edited
    sync_vault(config, workers=1)
    assert rows(db, "SELECT nodes, edges FROM canvases") == [(6, 0)]
    (vault / "b.canvas").write_text("not json")  # broken: a problem, rows gone
    sync_vault(config, workers=1)
    assert rows(db, "SELECT nodes FROM canvases") == [(0,)]
    assert rows(db, "SELECT count(*) FROM problems WHERE path = 'b.canvas'") == [(1,)]
    (vault / "b.canvas").unlink()
    sync_vault(config, workers=1)
    assert rows(db, "SELECT count(*) FROM canvases") == [(0,)]
    assert rows(db, "SELECT count(*) FROM problems") == [(0,)]
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_the_daemon_keeps_canvases_live(tmp_path, make_vault):
    vault = make_vault({"Flink.md": "# Flink\n"})
    with RunningDaemon(vault, tmp_path / "mirror.db") as d:
        db = d.config.db
        (vault / "b.canvas").write_text(board())
        wait_for(lambda: rows(db, "SELECT nodes FROM canvases") == [(6,)], what="canvas added")
        (vault / "b.canvas").write_text(board(nodes=BOARD["nodes"][:3]))
        wait_for(lambda: rows(db, "SELECT nodes FROM canvases") == [(3,)], what="canvas edit")
        (vault / "concepts").mkdir()
        (vault / "concepts" / "Kafka.md").write_text("# Kafka\n")
        wait_for(lambda: rows(db, "SELECT target_path FROM canvas_links WHERE node_id = 'f'")
                 == [("concepts/Kafka.md",)], what="file node resolved")
        (vault / "b.canvas").unlink()
        wait_for(lambda: rows(db, "SELECT count(*) FROM canvases") == [(0,)], what="delete")
        wait_converged(vault, db, tmp_path)


def test_a_version_2_mirror_is_migrated_and_filled(tmp_path):
    """A mirror made by vaultsync 0.1.0 (schema 2, tests/data/v2/mirror-v2.db, of the
    vault beside it) opens, migrates to version 3 and, after one sync, reads the vault as
    a fresh sync does: canvases, drawings, titles, nested tasks, comments, anchors."""
    vault, db = copy_fixture_mirror(2, tmp_path)
    assert rows(db, "PRAGMA user_version") == [(2,)]
    before = dict(rows(db, "SELECT path, id FROM pages"))
    report = sync_vault(load_config(vault, db), workers=1)
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)] and SCHEMA_VERSION >= 3
    assert dict(rows(db, "SELECT path, id FROM pages")) == before  # ids kept
    assert report.updated == len(before)  # parsed again by the new parser
    assert rows(db, "SELECT path, title, kind FROM pages ORDER BY path") == [
        ("concepts/Equivalence Oracle.md", "Equivalence Oracle", "concept"),
        ("concepts/Functions.md", "functions", "concept"),
        ("drawings/Sketch.excalidraw.md", "Sketch", "drawing")]
    assert rows(db, "SELECT text FROM tasks ORDER BY line") == [
        ("read the paper",), ("nested with a tab",), ("another",)]
    assert ("In comment",) not in rows(db, "SELECT text FROM headings")
    assert rows(db, "SELECT value FROM fields") == [("`= date(now) - this.file.ctime`",)]
    assert rows(db, "SELECT anchor FROM broken_anchors") == [("None",)]  # hasTag found
    assert rows(db, "SELECT path, nodes, edges FROM canvases") == [("map.canvas", 2, 1)]
    assert db_dump(db) == fresh_dump(vault, tmp_path)


def test_the_sample_vault_has_a_canvas(sample_mirror: Path):
    (path, nodes), = rows(sample_mirror, "SELECT path, nodes FROM canvases")
    assert nodes >= 5
    assert rows(sample_mirror, "SELECT count(*) FROM canvas_links WHERE target_id IS NULL "
                               "AND form = 'file'") == [(0,)]
