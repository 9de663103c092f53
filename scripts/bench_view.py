#!/usr/bin/env python3
"""Benchmark the graph view in headless Chromium (software rendering, no GPU).

Usage::

    .venv/bin/python scripts/bench_view.py --workdir /tmp/vb        # 1,000 and 10,000 pages
    .venv/bin/python scripts/bench_view.py --workdir /tmp/vb --pages 10000 --runs 3 \\
        --screenshots docs                                       # and the README's pictures
    .venv/bin/python scripts/bench_view.py --workdir /tmp/vb --src /tmp/old  # another checkout

For each size: a vault made by scripts/gen_vault.py (seed 42, kept in WORKDIR and
copied for each invocation, since the benchmark edits it), a fresh mirror, and
`vaultsync serve --watch` of the checkout given by --src (its Python package and its
built bundle), run as a child process. Once the daemon has computed the metrics (and
the stored layout, where the checkout has one), each run opens the page in a fresh
browser context and times, on the page's own clock:

- first paint: from navigation start to the first frame that shows the graph
  (`data-painted`; a checkout without it: `data-ready`, set after its synchronous
  first render);
- settled layout: to the end of the force layout (`data-layout="stopped"`);
- local switch: from a click on "Local" (the top page by PageRank selected, then a page
  with few links) until the neighbourhood is in the graph and the main thread has run
  a task after it (interactive again);
- back to global, a filter change (tags shown) and an edit arriving over the event
  stream (a new page linked from the hub, written to the vault; until it is in the
  graph), timed the same way;
- the longest main-thread block: the longest `longtask` entry (PerformanceObserver)
  in each phase and overall.

A step that does not finish within --timeout seconds is reported as "> timeout" and
ends that run (the tab is frozen). Prints a Markdown section (and writes it with --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gen_vault  # this script's neighbour: its folder is sys.path[0]
import httpx
from bench import descendants, proc_field, remove_db, wait_for_quiet

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]

# Installed before the page's own scripts: every long task, and when each body
# data-attribute the view sets first took each value.
INIT_SCRIPT = """
window.__bench = { longtasks: [], marks: {} };
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__bench.longtasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: true });
} catch (_) {}
document.addEventListener("DOMContentLoaded", () => {
  const note = () => {
    for (const [k, v] of Object.entries(document.body.dataset)) {
      const key = k + "=" + v;
      if (!(key in window.__bench.marks)) window.__bench.marks[key] = performance.now();
    }
  };
  note();
  new MutationObserver(note).observe(document.body, { attributes: true });
});
"""

# Clicks a control in its own task and resolves when the body says the wanted mode and
# node count and the main thread has run one more task after that: interactive again.
# (No eval: the page's Content-Security-Policy forbids it.)
ACTION_JS = """
([control, mode, nodes]) => {
  window.__step = null;
  const done = () => (mode === null || document.body.dataset.mode === mode)
    && document.body.dataset.nodes === String(nodes);
  setTimeout(() => {
    const t0 = performance.now();
    document.getElementById(control).click();
    const check = () => {
      if (!done()) { setTimeout(check, 5); return; }
      requestAnimationFrame(() => setTimeout(() => {
        window.__step = { start: t0, end: performance.now() };
      }, 0));
    };
    check();
  }, 0);
}
"""


class StepTimeout(Exception):
    """A step did not finish in time: the tab is frozen or far too slow."""


def kill_renderers() -> None:
    """End this benchmark's own Chromium tabs (renderer processes): a frozen tab never
    runs the script that would time a wait out, so Playwright would wait for ever."""
    for pid in descendants(os.getpid()):
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def wait(page: Any, js: str, timeout: float, arg: Any = None, polling: int = 100) -> None:
    """page.wait_for_function with a watchdog: StepTimeout after `timeout` seconds, even
    when the tab is frozen (its renderer is killed)."""
    import threading

    from playwright.sync_api import Error as PlaywrightError

    watchdog = threading.Timer(timeout + 5, kill_renderers)
    watchdog.start()
    try:
        page.wait_for_function(js, arg=arg, timeout=timeout * 1000, polling=polling)
    except PlaywrightError:  # a timeout, or the tab the watchdog ended
        raise StepTimeout from None
    finally:
        watchdog.cancel()


@dataclass
class Run:
    figures: dict[str, float] = field(default_factory=dict)  # ms
    blocks: dict[str, float] = field(default_factory=dict)  # longest task per phase, ms
    timed_out: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


# --- set-up --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def prepare(workdir: Path, pages: int, src: Path) -> tuple[Path, Path]:
    """A fresh copy of the generated vault and a fresh mirror of it."""
    pristine = workdir / f"vault-{pages}"
    if not (pristine / ".gen_vault").exists():
        gen_vault.generate(pristine, pages, seed=42, force=pristine.exists())
    vault = workdir / f"work-{pages}"
    if vault.exists():
        shutil.rmtree(vault)
    shutil.copytree(pristine, vault)
    db = workdir / f"mirror-{pages}.db"
    remove_db(db)
    subprocess.run([sys.executable, "-m", "vaultsync", "sync", str(vault), "--db", str(db)],
                   check=True, cwd=src, env=child_env(src), stdout=subprocess.DEVNULL)
    return vault, db


class Server:
    """`vaultsync serve --watch` of the checkout under test, as a child process."""

    def __init__(self, src: Path, vault: Path, db: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vaultsync", "serve", str(vault), "--db", str(db),
             "--port", str(self.port), "--watch"],
            cwd=src, env=child_env(src), stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        token_file = Path(str(db) + ".token")
        while not token_file.exists():
            self._alive(deadline)
        self.client = httpx.Client(base_url=self.base, timeout=120, headers={
            "Authorization": f"Bearer {token_file.read_text().strip()}"})
        while True:
            self._alive(deadline)
            try:
                if self.client.get("/api/status").status_code == 200:
                    break
            except httpx.TransportError:
                pass

    def _alive(self, deadline: float) -> None:
        if self.proc.poll() is not None:
            raise SystemExit(f"the server exited with {self.proc.returncode}; see {self.log.name}")
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start within 60 s")
        time.sleep(0.1)

    def wait_settled(self, timeout: float = 600) -> dict[str, Any]:
        """Until the daemon has computed metrics (and the layout, if there is one)."""
        deadline = time.monotonic() + timeout
        while True:
            status: dict[str, Any] = self.client.get("/api/status").json()
            metrics = status.get("metrics") or {}
            layout = status.get("layout") or {"fresh": True}
            if metrics.get("fresh") and metrics.get("heavy_fresh") and layout.get("fresh") \
                    and not metrics.get("computing"):
                return status
            if time.monotonic() > deadline:
                raise SystemExit(f"metrics not computed within {timeout} s: {status}")
            time.sleep(0.25)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def pick_pages(db: Path) -> tuple[str, str]:
    """The top page by PageRank, and a page with 2 links in and 7 out (or the nearest)."""
    conn = sqlite3.connect(db)
    try:
        hub = conn.execute("SELECT p.path FROM pages p JOIN page_metrics m ON m.page_id = p.id "
                           "ORDER BY m.pagerank DESC LIMIT 1").fetchone()[0]
        small = conn.execute(
            "SELECT p.path FROM pages p JOIN page_metrics m ON m.page_id = p.id "
            "WHERE p.path != ? ORDER BY abs(m.in_degree - 2) + abs(m.out_degree - 7), p.path "
            "LIMIT 1", (hub,)).fetchone()[0]
    finally:
        conn.close()
    return hub, small


# --- one run in the browser ------------------------------------------------------------------


def longest(longtasks: list[list[float]], start: float, end: float) -> float:
    """The longest task overlapping [start, end] (page clock, ms); 0 when none."""
    return max((d for s, d in longtasks if s < end and s + d > start), default=0.0)


def say(text: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def step(page: Any, control: str, mode: str | None, nodes: int, timeout: float
         ) -> tuple[float, float]:
    """(start, end) on the page clock of a click on `control`, until the view shows `mode`
    (None: any) with `nodes` nodes and its main thread is free again. StepTimeout when
    that takes longer than `timeout` seconds."""
    page.evaluate(ACTION_JS, [control, mode, nodes])
    wait(page, "() => window.__step !== null", timeout)
    result = page.evaluate("window.__step")
    return float(result["start"]), float(result["end"])


def one_run(browser: Any, server: Server, vault: Path, hub: str, small: str, *,
            timeout: float, viewport: tuple[int, int], shots: Path | None, size_name: str,
            run_no: int) -> Run:
    run = Run()
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    api = server.client
    full = api.get("/api/graph", params={"limit": 20000}).json()
    total = len(full["nodes"])
    phase_start = 0.0

    def timed(label: str, control: str, mode: str | None, nodes: int) -> None:
        """Click `control`, record the step under `label` (a row of PHASES)."""
        try:
            start, end = step(page, control, mode, nodes, timeout)
        except StepTimeout:
            raise StepTimeout(label) from None
        run.figures[label] = end - start
        say(f"{label} {end - start:.0f} ms")
        run.blocks[label] = longest(page.evaluate("window.__bench.longtasks"), start, end)

    try:
        page.goto(server.base + "/", wait_until="commit")
        try:
            wait(page, "() => document.body && (document.body.dataset.painted || "
                 "document.body.dataset.ready === '1')", timeout)
        except StepTimeout:
            raise StepTimeout("first paint") from None
        marks = page.evaluate("window.__bench.marks")
        painted = marks.get("painted=1", marks.get("ready=1"))
        run.figures["first paint"] = painted
        say(f"first paint {painted:.0f} ms")
        try:
            wait(page, "() => document.body.dataset.ready === '1' && "
                 "document.body.dataset.layout === 'stopped'", timeout)
            wait(page, "() => new Promise(r => requestAnimationFrame(() => "
                 "setTimeout(() => r(true), 0)))", timeout)
        except StepTimeout:
            raise StepTimeout("settled layout") from None
        marks = page.evaluate("window.__bench.marks")
        settled = max(v for k, v in marks.items() if k == "layout=stopped")
        run.figures["settled layout"] = settled
        say(f"settled layout {settled:.0f} ms")
        resources = page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes("
            "'/api/graph')).map(e => [e.name, e.transferSize, e.decodedBodySize])")
        if resources:
            run.notes["graph bytes"] = (resources[0][1], resources[0][2])
        tasks = page.evaluate("window.__bench.longtasks")
        run.blocks["load"] = longest(tasks, 0, settled)
        phase_start = settled
        if shots is not None and run_no == 0:
            page.screenshot(path=str(shots / f"graph-view-{size_name}-global.png"))

        for label, path in (("local switch (hub)", hub), ("local switch (small page)", small)):
            expected = len(api.get("/api/graph/local", params={"path": path}).json()["nodes"])
            page.evaluate("([p]) => window.vaultsyncView.selectPage(p, { focus: false })", [path])
            wait(page, f"() => document.body.dataset.panelLoaded === {json.dumps(path)}",
                 timeout)
            if label.endswith("(small page)"):
                # From the global view, like the first: leave local mode first.
                start, end = step(page, "mode-global", "global", total, timeout)
                page.evaluate("([p]) => window.vaultsyncView.selectPage(p, { focus: false })",
                              [path])
                wait(page, f"() => document.body.dataset.panelLoaded === {json.dumps(path)}",
                     timeout)
            timed(label, "mode-local", "local", expected)
            run.notes[label] = f"{expected} nodes"
            if shots is not None and run_no == 0 and label == "local switch (hub)":
                wait(page, "() => document.body.dataset.layout === 'stopped'", timeout)
                page.screenshot(path=str(shots / f"graph-view-{size_name}-local.png"))

        timed("back to global", "mode-global", "global", total)

        with_tags = len(api.get("/api/graph", params={"limit": 20000, "include": "tags"})
                        .json()["nodes"])
        timed("filter change (tags shown)", "inc-tags", None, with_tags)
        step(page, "inc-tags", None, total, timeout)

        # An edit over the event stream: a new page, linked from the hub.
        name = f"bench-edit-{run_no}-{int(time.time())}"
        new_id = f"{name}.md"
        page.evaluate("window.__editStart = performance.now()")
        (vault / new_id).write_text(f"# Bench edit {run_no}\n\nAbout [[{Path(hub).stem}]].\n",
                                    encoding="utf-8")
        hub_file = vault / hub
        hub_file.write_text(hub_file.read_text(encoding="utf-8") + f"\nSee [[{name}]].\n",
                            encoding="utf-8")
        try:
            wait(page, "([id, hub]) => { const g = window.vaultsyncView.graph; "
                 "return g.hasNode(id) && g.hasEdge(hub, id); }", timeout, arg=[new_id, hub],
                 polling=20)
        except StepTimeout:
            raise StepTimeout("edit over SSE (write to shown)") from None
        end = page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                            "setTimeout(() => r(performance.now()), 0)))")
        start = page.evaluate("window.__editStart")
        tasks = page.evaluate("window.__bench.longtasks")
        run.figures["edit over SSE (write to shown)"] = end - start
        run.blocks["edit over SSE (write to shown)"] = longest(tasks, start, end)
        tasks = page.evaluate("window.__bench.longtasks")
        run.blocks["whole run"] = max((d for _, d in tasks), default=0.0)
    except StepTimeout as exc:
        what = exc.args[0] if exc.args else "step"
        run.timed_out.append(what)
        run.notes["frozen since"] = phase_start
    finally:
        if errors:
            run.notes["page errors"] = errors[:3]
        if not run.timed_out:
            context.close()  # a frozen tab may never close: its browser is dropped instead
    return run




# --- report ------------------------------------------------------------------------------------

PHASES = ["first paint", "settled layout", "local switch (hub)", "local switch (small page)",
          "back to global", "filter change (tags shown)", "edit over SSE (write to shown)"]


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def machine() -> dict[str, str]:
    return {"CPU": proc_field("/proc/cpuinfo", "model name"), "Cores": str(os.cpu_count()),
            "Memory": proc_field("/proc/meminfo", "MemTotal"),
            "Kernel": platform.release(), "Python": platform.python_version()}


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def section(pages: int, runs: list[Run], info: dict[str, Any], timeout: float) -> str:
    lines = [f"### {pages:,} pages", "",
             f"{info['pages']:,} pages, {info['edges']:,} page-to-page edges; `/api/graph` as "
             f"the view fetched it: {info['bytes']}. Top page: `{info['hub']}`; small page: "
             f"`{info['small']}`. Load average {info['load_start']} at start, "
             f"{info['load_end']} at end; {len(runs)} run(s).", "",
             "| Measurement | Median | Runs | Longest main-thread block (max over runs) |",
             "|---|---|---|---|"]
    for phase in PHASES:
        values = [r.figures[phase] for r in runs if phase in r.figures]
        frozen = [r for r in runs if phase in r.timed_out]
        blocks = [r.blocks[phase] for r in runs if phase in r.blocks]
        if values:
            median = fmt_ms(statistics.median(values))
            each = ", ".join(fmt_ms(v) for v in values)
        elif frozen:
            median = f"> {timeout:.0f} s (did not finish)"
            each = "frozen"
        else:
            continue
        if phase == "first paint" or phase == "settled layout":
            block = fmt_ms(max((r.blocks.get("load", 0.0) for r in runs), default=0.0)) \
                if phase == "settled layout" else ""
        else:
            block = fmt_ms(max(blocks)) if blocks else ("frozen" if frozen else "")
        note = next((r.notes[phase] for r in runs if phase in r.notes), "")
        lines.append(f"| {phase}{f' ({note})' if note else ''} | {median} | {each} | {block} |")
    whole = [r.blocks["whole run"] for r in runs if "whole run" in r.blocks]
    if whole:
        lines.append(f"| longest main-thread block, whole run | {fmt_ms(statistics.median(whole))}"
                     f" | {', '.join(fmt_ms(v) for v in whole)} | {fmt_ms(max(whole))} |")
    errors = [e for r in runs for e in r.notes.get("page errors", [])]
    if errors:
        lines += ["", f"Page errors: {errors[:3]}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", default="1000,10000",
                        help="comma-separated vault sizes (default 1000,10000)")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="where the generated vaults, mirrors and logs go")
    parser.add_argument("--src", type=Path, default=REPO,
                        help="the vaultsync checkout to measure (its bundle must be built)")
    parser.add_argument("--runs", type=int, default=3, help="page loads per size (default 3)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds before a step counts as frozen (default 120)")
    parser.add_argument("--chromium", default=os.environ.get("VAULTSYNC_CHROMIUM",
                                                             "/usr/bin/chromium"))
    parser.add_argument("--viewport", default="1400x900", help="WIDTHxHEIGHT")
    parser.add_argument("--screenshots", type=Path,
                        help="save the first run's global and local views of the largest size here")
    parser.add_argument("--quiet-load", type=float, default=None,
                        help="before each size, wait until the 1-minute load average is below "
                             "this (the machine is shared)")
    parser.add_argument("--quiet-wait", type=float, default=600,
                        help="wait at most this many seconds for --quiet-load (default 600)")
    parser.add_argument("--label", help="what is measured (default: the checkout's git commit)")
    parser.add_argument("--out", type=Path, help="also write the Markdown section to this file")
    args = parser.parse_args(argv)
    sizes = [int(p) for p in args.pages.split(",") if p.strip()]
    width, height = (int(v) for v in args.viewport.lower().split("x"))
    src = args.src.resolve()
    if not (src / "vaultsync" / "server" / "static" / "bundle.js").exists():
        raise SystemExit(f"{src}: the view is not built (bash scripts/build_view.sh)")
    from playwright.sync_api import sync_playwright

    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    rev = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    rev = args.label or rev or str(src)
    sections = []
    with sync_playwright() as pw:
        def launch() -> Any:
            return pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)

        browser = launch()
        version = browser.version
        try:
            for pages in sizes:
                print(f"{pages} pages: preparing", file=sys.stderr)
                vault, db = prepare(args.workdir, pages, src)
                server = Server(src, vault, db, args.workdir / f"serve-{pages}.log")
                try:
                    status = server.wait_settled()
                    wait_for_quiet(args.quiet_load, args.quiet_wait)
                    load_start = loadavg()
                    hub, small = pick_pages(db)
                    edges = sqlite3.connect(db).execute(
                        "SELECT count(*) FROM page_edges").fetchone()[0]
                    runs: list[Run] = []
                    for i in range(args.runs):
                        print(f"{pages} pages: run {i + 1}", file=sys.stderr)
                        shots = args.screenshots if pages == max(sizes) else None
                        run = one_run(browser, server, vault, hub, small, timeout=args.timeout,
                                      viewport=(width, height), shots=shots,
                                      size_name=f"{pages // 1000}k" if pages >= 1000
                                      else str(pages), run_no=i)
                        print(f"  {run.figures} blocks {run.blocks} timed out {run.timed_out}"
                              f" {run.notes}", file=sys.stderr)
                        runs.append(run)
                        if run.timed_out:
                            # Its tab is frozen: leave that browser to Playwright's exit.
                            browser = launch()
                            break  # a frozen tab: the next run would freeze the same way
                        server.wait_settled()
                finally:
                    server.stop()
                sent = next((r.notes["graph bytes"] for r in runs if "graph bytes" in r.notes),
                            None)
                info = {"pages": status["counts"]["pages"], "edges": edges, "hub": hub,
                        "small": small, "load_start": load_start, "load_end": loadavg(),
                        "bytes": f"{sent[0] / 1e6:.2f} MB sent, {sent[1] / 1e6:.2f} MB of JSON"
                        if sent else "not measured"}
                sections.append(section(pages, runs, info, args.timeout))
        finally:
            browser.close()
    import shlex

    head = ["## The graph view in headless Chromium (`scripts/bench_view.py`)", "",
            f"vaultsync {rev}; Chromium {version}, headless, `--disable-gpu` (software "
            f"WebGL); viewport {width}x{height}. " + "; ".join(
                f"{k}: {v}" for k, v in machine().items()) + ".", "",
            "Command: `" + shlex.join(["scripts/bench_view.py", *(argv if argv is not None
                                                                 else sys.argv[1:])]) + "`"]
    text = "\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
