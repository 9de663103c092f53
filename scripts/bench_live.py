#!/usr/bin/env python3
"""How soon a subscribed MCP client hears of a save, and how many messages a big
checkout sends: a real `vaultsync mcp --watch` over stdio, the official SDK's client.

Usage::

    .venv/bin/python scripts/bench_live.py WORKDIR [--saves 10] [--pages 5000]

A copy of the sample vault is made in WORKDIR. The client subscribes (the earlier
protocols' resources/subscribe, so that every wire message is counted) to one page and
to the list of pages; the page is saved --saves times, each time waiting for its
notification (the delay from the write to the notification is printed: median, max);
then --pages new pages are written at once, as a `git checkout` would, and the messages
counted until the daemon has them all and a quiet second passed.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parent.parent
PAGE = "concepts/backpressure.md"
URI = "vault://page/" + PAGE


class Heard:
    def __init__(self) -> None:
        self.updated: list[tuple[float, str]] = []
        self.list_changed: list[float] = []

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.updated.append((time.monotonic(), str(message.params.uri)))
        elif isinstance(message, types.ResourceListChangedNotification):
            self.list_changed.append(time.monotonic())


def pages_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM pages").fetchone()[0])


async def run(work: Path, saves: int, pages: int) -> None:
    vault, db = work / "vault", work / "live.db"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "vault", vault)
    heard = Heard()
    params = StdioServerParameters(command=sys.executable, args=[
        "-m", "vaultsync", "mcp", str(vault), "--db", str(db), "--watch"])
    with open(work / "mcp.log", "w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy",
                          message_handler=heard) as client:
            while not (await client.call_tool("status", {})).structured_content["live"]:
                await anyio.sleep(0.1)
            await client.subscribe_resource(URI)
            delays = []
            text = (vault / PAGE).read_text("utf-8")
            for n in range(saves):
                before = len(heard.updated)
                written = time.monotonic()
                (vault / PAGE).write_text(text + f"\nSave {n}.\n", "utf-8")
                while len(heard.updated) == before:
                    await anyio.sleep(0.01)
                delays.append(heard.updated[-1][0] - written)
            print(f"save → notification over stdio: median {statistics.median(delays):.2f} s,"
                  f" max {max(delays):.2f} s ({saves} saves)")
            base_updates, base_lists = len(heard.updated), len(heard.list_changed)
            start_pages = pages_in(db)
            started = time.monotonic()
            (vault / "checkout").mkdir()
            for n in range(pages):
                (vault / "checkout" / f"page-{n:05}.md").write_text(
                    f"# Page {n}\n\nSee [[backpressure]].\n", "utf-8")
            (vault / PAGE).write_text(text + "\nAfter the checkout.\n", "utf-8")
            while pages_in(db) < start_pages + pages:
                await anyio.sleep(0.1)
            synced = time.monotonic() - started
            quiet = time.monotonic()
            count = len(heard.updated) + len(heard.list_changed)
            while time.monotonic() - quiet < 1.0:
                await anyio.sleep(0.05)
                if len(heard.updated) + len(heard.list_changed) != count:
                    count = len(heard.updated) + len(heard.list_changed)
                    quiet = time.monotonic()
            print(f"{pages:,} new pages in the mirror after {synced:.1f} s; messages: "
                  f"{len(heard.list_changed) - base_lists} list changes, "
                  f"{len(heard.updated) - base_updates} updates of the subscribed page")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path, help="a folder to make (it is emptied first)")
    ap.add_argument("--saves", type=int, default=10)
    ap.add_argument("--pages", type=int, default=5000)
    args = ap.parse_args()
    anyio.run(run, args.work, args.saves, args.pages)


if __name__ == "__main__":
    main()
