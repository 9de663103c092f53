#!/usr/bin/env python3
"""Deterministic generator of realistic Obsidian-style vaults for benchmarks.

Usage::

    python scripts/gen_vault.py OUT_DIR --pages N [--seed 42] [--groups K] [--force]

or, from Python (``import gen_vault`` beside it in ``scripts/``, ``from scripts import
gen_vault`` from the checkout's root, as the tests do)::

    summary = generate(Path(out_dir), pages, seed=42)   # force=False, groups=0 by default

Standard library only.  The same ``--seed`` and ``--pages`` always produce a
byte-identical vault (no wall-clock dates, no hash-order dependence, PNGs are
written with stored, i.e. uncompressed, deflate blocks so that even the zlib
version cannot change the bytes).

What a vault contains
---------------------
* ``concepts/`` (~60 %), ``sources/`` (~25 %), ``systems/`` (~15 %).  With 300
  or more concept pages, concepts are spread over ``concepts/<area>/`` folders
  of uneven size (about 1,000 pages per area on average) with ~5 % left at
  ``concepts/`` itself.  A few basenames are deliberately repeated in two
  folders (a concept and a system, or concepts of two areas).
* YAML frontmatter: ``title``, ``type``, ``tags`` (flow list, block list or,
  sometimes, a plain string), ``aliases`` (~30 %), unquoted ``created`` /
  ``updated`` dates; sources add ``url``, ``author``, ``published``; ~10 % of
  concepts carry ``related: "[[other-page]]"``.
* A body of 200-800 words: ``# Title``, several ``## `` sections of
  pseudo-English prose built from data-streaming / AI-infrastructure
  vocabulary, hashtags (``#streaming``, ``#ai/inference``), inline code, fenced
  code blocks holding a ``[[not-a-link]]`` (~15 %), HTML comments, ``$math$``,
  callouts, block quotes and tables in some pages.
* About 10 links per page.  Targets are drawn by preferential attachment
  (weight = 1 + current in-degree among pages created so far, pages being
  "created" in a seeded order), after one coverage link per non-orphan page.
  Forms: ``[[base]]``, ``[[base|shown]]``, ``[[base#Heading]]``,
  ``[[base#^blockid]]`` (the block id exists in the target),
  ``[[folder/base]]``, ``[[base.md]]``, ``![[base]]``,
  ``[text](../folder/base.md)`` (correct relative path, %-encoded; a path
  going down a folder is written ``./area/base.md``, never ``area/base.md``,
  which resolvers read as a vault-root path),
  ``[text](base.md)`` and ``[[#Section]]`` self links.  Concepts end with a
  ``## Seen in`` list of 0-4 source pages.  ~3 % of links point at pages that
  do not exist (a shared, Zipf-weighted pool of names, so "wanted pages"
  rank).  ~3 % of pages have no incoming link at all (orphans).
* ``--groups K`` (K > 0) plants K groups of pages (page i is in group i mod K):
  coverage links, "Seen in" sources and preferential targets are drawn from
  the page's own group, except for a share ``P_CROSS_GROUP`` of the
  preferential ones, so the graph has K clear communities (for measuring the
  graph view's layout, scripts/bench_layout.py).  Without it, the draws and
  bytes are exactly those of a vault made before the option existed.
* ``attachments/img-0001.png`` ... (one tiny valid PNG per 200 pages) embedded
  as ``![[img-0001.png|300x200]]``, ``![[img-0001.png]]`` or
  ``![alt](../attachments/img-0001.png)``; a few are never embedded.
* A marker file ``.gen_vault`` at the root; ``--force`` only ever deletes a
  directory that holds this marker.

Counting conventions of the summary (``generate()`` returns it as a dict)
------------------------------------------------------------------------
``links`` counts every note link written in a body: wikilinks, note embeds,
Markdown links to ``.md`` files, ``[[#Section]]`` self links, "Seen in"
entries and unresolved links.  It excludes ``related:`` frontmatter links
(``frontmatter_links``), attachment embeds (``attachment_embeds``), external
URLs (``external_links``) and the fake links inside code / inline code.
``orphans`` are pages that no other page links to (neither in a body nor in
``related:``).  Links to a duplicated basename written as bare ``[[base]]``
are ambiguous by nature; they are counted as resolved (both candidates exist).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as _dt
import itertools
import math
import random
import shutil
import struct
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import quote

MARKER = ".gen_vault"

# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------

_NAME_MODS = (
    "adaptive async batch bounded columnar consistent distributed durable elastic "
    "ephemeral exactly-once hierarchical hybrid idempotent incremental in-memory lazy "
    "leaderless lock-free log-structured multi-tenant online partitioned persistent "
    "probabilistic quantized read-optimized replicated sharded sparse speculative "
    "stateful stateless streaming tiered transactional vectorized write-ahead zero-copy "
    "cross-region disaggregated continuous event-driven snapshot approximate semantic "
    "heterogeneous serverless deterministic federated"
).split()

_NAME_NOUNS = (
    "backpressure batching broker cache changelog checkpoint compaction consumer-group "
    "embedding feature-store fine-tuning gradient index inference ingestion join kv-cache "
    "lakehouse latency leader-election log materialized-view model-serving offset "
    "orchestration partition pipeline prefetch quorum rag replication retrieval scheduler "
    "schema-registry serialization shard sink snapshot source-connector state-store "
    "tokenizer throughput topic transaction vector-index watermark window workload "
    "gpu-pool rebalancing deduplication sampling eviction routing sequencer "
    "admission-control autoscaling batch-size context-window attention mixture-of-experts "
    "speculative-decoding dataloader storage-tier object-store commit-log reranker "
    "chunking query-planner cost-model priority-queue rate-limiter circuit-breaker "
    "heartbeat lease fencing-token consensus raft-log gossip bloom-filter lsm-tree b-tree "
    "wal segment retention tombstone upsert cdc event-time processing-time late-data skew "
    "hot-partition tail-latency cold-start warm-pool throttling quota lineage catalog "
    "governance drift evaluation guardrail prompt-cache agent-loop tool-call"
).split()

_NAME_SUFFIXES = (
    "pattern problem boundary tax tradeoff anti-pattern budget ceiling wall model "
    "strategy invariant"
).split()

_ACRONYMS = {
    "kv": "KV", "rag": "RAG", "gpu": "GPU", "wal": "WAL", "cdc": "CDC", "lsm": "LSM",
    "slo": "SLO", "llm": "LLM", "b": "B",
}

_AREAS = (
    "streaming storage inference training observability networking databases "
    "scheduling security governance retrieval messaging analytics serving compute "
    "consensus caching orchestration evaluation agents data-quality lakehouse "
    "hardware compilers query-engines feature-engineering cost reliability "
    "replication indexing"
).split()

_SYS_PREFIX = (
    "aero arc basalt cinder corvid delta ember ferro flux granite helix iris kestrel "
    "lumen magma nimbus onyx orca pylon quartz raven sable strata tidal umbra vector "
    "vortex zephyr cobalt halcyon juniper lynx marlin nova osprey pike quill rune "
    "sparrow talon vesper wren yarrow zinc"
).split()
_SYS_SUFFIX = (
    "db flow mesh stream lake serve queue cache store scale bus grid hub forge kit ml "
    "ops sql vec stack"
).split()
_SYS_UPPER = {"db": "DB", "ml": "ML", "sql": "SQL"}
_SYS_COMPONENT = (
    "", "", "", " Connect", " Gateway", " Operator", " Proxy", " Runtime", " Agent",
    " Console", " Sink", " Router", " Registry", " Cloud", " Edge", " Lite", " Studio",
)
_SYS_EDITION = ("", "", "", " Pro", " Enterprise", " Serverless", " OSS", " Next")

_VENDORS = (
    "bytewave cloudpeak dataforge ferrous-labs gridline infera kiln-ai latticeworks "
    "meridian-systems quanta-cloud streamcraft tensorhouse vantage-ml xylem-data "
    "zenith-compute halyard copperline bluefin-data ostrich-ai tallgrass"
).split()
_FIRST = (
    "Ada Bruno Chen Dana Elif Farah Goran Hana Ivo Jonas Kavya Lena Mateo Nadia Omar "
    "Priya Quinn Rosa Sven Tomas Uma Viktor Wei Yara Zoe"
).split()
_LAST = (
    "Abara Bergstrom Castillo Dimitrov Eze Fischer Gupta Haddad Ishikawa Jovanovic Kowalski "
    "Lindqvist Moreau Nakamura Okafor Petrov Quispe Rahman Santos Tanaka Urquhart Varga "
    "Weiss Yilmaz Zielinski"
).split()

_HEADINGS = {
    "concept": ("Why it matters", "How it works", "Mechanics", "Trade-offs", "Failure modes",
                "Design patterns", "Relationship to nearby concepts", "Open questions",
                "Caveats", "Examples", "Operational guidance", "History"),
    "source": ("Key claims", "Architecture described", "Numbers reported", "Quotes",
               "What is new", "Caveats", "Open questions", "Context"),
    "system": ("Architecture", "Deployment", "Operational notes", "Performance",
               "Failure modes", "Ecosystem", "Caveats", "Configuration", "Versions"),
}
_FIRST_HEADING = {"concept": "Definition", "source": "Summary", "system": "Overview"}

_TAGS = (
    "streaming", "ai/inference", "ai/training", "kafka", "storage", "gpu", "rag",
    "vector-search", "observability", "databases", "distributed-systems", "llm",
    "data-engineering", "infra/networking", "infra/scheduling", "cost",
)
# heavy head: streaming and ai/inference are the most common tags
_TAG_CUM = list(itertools.accumulate(
    [8, 6, 3, 3, 2, 2, 2, 2, 2, 1.5, 1.5, 2, 1.5, 1, 1, 1]))

_NOUNS = (
    "partition", "offset", "consumer group", "broker", "topic", "changelog", "commit log",
    "watermark", "window", "state store", "checkpoint", "snapshot", "replica", "leader",
    "follower", "quorum", "segment", "index", "compaction", "retention policy",
    "schema registry", "connector", "sink", "source", "pipeline", "producer", "batch",
    "micro-batch", "stream", "event", "record", "key", "shard", "KV cache", "GPU",
    "accelerator", "embedding", "vector index", "token", "context window", "prompt", "model",
    "checkpoint shard", "feature store", "training run", "inference server",
    "request queue", "scheduler", "autoscaler", "load balancer", "object store",
    "lakehouse table", "query planner", "cost model", "rate limiter", "retry policy",
    "dead-letter queue", "serializer", "tokenizer", "reranker", "retriever", "agent",
    "tool call", "data loader", "gradient", "optimizer state", "attention kernel",
    "decoder", "draft model", "tenant", "control plane", "data plane", "metadata service",
    "catalog", "lineage graph", "trace", "metric", "alert", "SLO", "error budget",
    "hot partition", "tail latency", "throughput", "backlog", "consumer lag", "fan-out",
    "join", "aggregation", "materialized view", "upsert", "tombstone", "CDC stream", "WAL",
    "LSM tree", "bloom filter", "memtable", "page cache", "network link", "NVMe drive",
    "storage tier", "cold tier", "warm pool", "prefill phase", "decode phase",
    "batch scheduler", "embedding model", "feature pipeline",
)


def _plural(noun: str) -> str:
    if noun[-1] == "y" and noun[-2:] not in ("ay", "ey", "oy"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "sh", "ch", "x")):
        return noun + "es"
    return noun + "s"


_PLURALS = tuple(_plural(n) for n in _NOUNS)
_ADJS = (
    "stateful", "stateless", "idempotent", "exactly-once", "at-least-once", "low-latency",
    "high-throughput", "bounded", "unbounded", "durable", "ephemeral", "tiered", "columnar",
    "vectorized", "sharded", "replicated", "partitioned", "incremental", "speculative",
    "quantized", "distributed", "centralized", "multi-tenant", "regional", "cross-region",
    "consistent", "ordered", "unordered", "hot", "cold", "skewed", "noisy", "batched",
    "streaming", "online", "offline", "elastic", "overloaded", "idle", "stale", "fresh",
    "late", "compacted", "immutable", "append-only", "warm", "shared", "dedicated",
)
_VERBS = (
    "absorbs", "amortizes", "batches", "bounds", "buffers", "caches", "coalesces",
    "compacts", "decouples", "dominates", "evicts", "exposes", "fences", "flushes", "hides",
    "indexes", "interleaves", "invalidates", "isolates", "materializes", "multiplexes",
    "orders", "overlaps", "partitions", "persists", "pipelines", "prefetches", "prunes",
    "queues", "rebalances", "reorders", "replays", "replicates", "routes", "samples",
    "schedules", "serializes", "shards", "shifts", "smooths", "stalls", "throttles",
    "tracks", "truncates", "amplifies", "reduces", "increases", "saturates", "warms",
    "drains", "checkpoints", "streams",
)
_PPS = (
    "under load", "at p99", "across regions", "per partition", "during rebalances",
    "on the hot path", "at the broker", "in the consumer", "between checkpoints",
    "at inference time", "during training", "behind the load balancer", "across GPU nodes",
    "within a single rack", "for long-context requests", "at steady state",
    "after a failover", "before the commit", "inside the state store", "at ingest",
    "per tenant", "in the control plane", "on every restart", "under memory pressure",
    "during backfills", "at the edge", "per request", "for cold reads",
)
_CONNS = ("because", "so", "while", "which means", "although", "and", "but", "whereas")
_OPENERS = ("In practice,", "In most deployments,", "At scale,", "Counter-intuitively,",
            "For this reason,", "Historically,", "In benchmarks,", "Operationally,",
            "Put differently,", "In the common case,")
_METRIC_FMT = ("{} ms", "{}x", "{} partitions", "{} GB/s", "a p99 of {} ms",
               "{}% of requests", "{} replicas", "a batch size of {}", "{} tokens per second",
               "{} MB per segment")
_METRIC_VALUES = (2, 3, 4, 8, 12, 16, 32, 50, 64, 95, 99, 128, 250, 512, 4096)
_INLINE_CODE = ("`acks=all`", "`max.poll.records=500`", "`linger.ms=5`",
                "`enable.idempotence=true`", "`consumer.poll(timeout=100)`",
                "`SELECT count(*) FROM events`", "`torch.compile`", "`--max-batch-tokens`",
                "`retention.ms`", "`kv_cache_dtype=fp8`", "`isolation.level=read_committed`",
                "`num_replicas: 3`")
_MATH = (r"$\lambda = N / t$", r"$L \approx W \cdot \lambda$",
         r"$p_{99} \le 2 \cdot p_{50}$", r"$T = B \cdot P / L$",
         r"$O(\log n)$", r"$\sum_{i=1}^{k} w_i = 1$")

_CODE = {
    "python": ("from streaming import Consumer",
               "consumer = Consumer(topic=\"events\", group=\"{w}\")",
               "for record in consumer.poll(timeout=100):",
               "    # see [[not-a-link]] for the retry rules",
               "    handle(record)"),
    "sql": ("-- [[not-a-link]] is not a wikilink inside code",
            "SELECT partition, max(offset) AS high_watermark",
            "FROM {w}_events",
            "GROUP BY partition;"),
    "yaml": ("pipeline:",
             "  name: {w}",
             "  # docs: [[not-a-link]]",
             "  replicas: 3",
             "  acks: all"),
    "bash": ("# restart the {w} workers, see [[not-a-link]]",
             "kubectl rollout restart deployment/{w}",
             "kubectl get pods -l app={w}"),
    "json": ("{{",
             "  \"name\": \"{w}\",",
             "  \"note\": \"[[not-a-link]]\",",
             "  \"max_batch_tokens\": 8192",
             "}}"),
}
_CODE_LANGS = tuple(_CODE)

# link form mix for resolved body links (cumulative weights)
_FORMS = ("wiki", "alias", "heading", "block", "path", "dotmd", "embed", "relmd", "baremd")
_FORM_CUM = list(itertools.accumulate(
    [0.46, 0.12, 0.07, 0.04, 0.05, 0.03, 0.04, 0.12, 0.07]))

_START = _dt.date(2022, 1, 3)
_END = _dt.date(2026, 1, 30)

P_UNRESOLVED = 0.037   # per preferential-attachment slot; ~3 % of all links
P_CROSS_GROUP = 0.05   # with planted groups: preferential links to another group
P_ORPHAN = 0.03


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def _title_from_base(base: str) -> str:
    words = base.split("-")
    out = [_ACRONYMS.get(w, w) for w in words]
    title = " ".join(out)
    return title[:1].upper() + title[1:]


def _relpath(target: str, start_dir: str) -> str:
    t = target.split("/")
    s = start_dir.split("/") if start_dir else []
    i = 0
    while i < len(s) and i < len(t) - 1 and s[i] == t[i]:
        i += 1
    return "../" * (len(s) - i) + "/".join(t[i:])


def _yaml_scalar(value: str) -> str:
    special = (": " in value or " #" in value or value[:1] in "!&*[]{}|>'\"%@`#,?-"
               or value.strip() != value
               or value.lower() in ("yes", "no", "true", "false", "null", "~"))
    if special:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _png(width: int, height: int, rgb1: tuple, rgb2: tuple) -> bytes:
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            row += bytes(rgb1 if (x // 2 + y // 2) % 2 == 0 else rgb2)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # level 0 = stored blocks: byte-identical whatever the zlib version
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))


class _Page:
    __slots__ = ("idx", "kind", "folder", "base", "title", "path", "orphan", "dup",
                 "sections", "blocks", "aliases", "tags", "created", "updated", "links",
                 "seen", "related", "atts", "ext", "budget", "meta", "linked")

    def __init__(self, idx: int, kind: str):
        self.idx = idx
        self.kind = kind
        self.folder = kind + "s"
        self.base = ""
        self.title = ""
        self.path = ""
        self.orphan = False
        self.dup = False
        self.sections: list = []
        self.blocks: list = []
        self.aliases: list = []
        self.tags: list = []
        self.created = _START
        self.updated = _START
        self.links: list = []     # (kind, target, form, sub, shown)
        self.seen: list = []      # (target idx, form)
        self.related = -1
        self.atts: list = []      # (attachment idx, form, size)
        self.ext: list = []       # (text, url)
        self.budget = 0
        self.meta: dict = {}
        self.linked: set = set()  # membership only (never iterated)


# --------------------------------------------------------------------------
# Planning (one global RNG, fixed order of draws)
# --------------------------------------------------------------------------

class _Plan:
    def __init__(self, n: int, seed: int, groups: int = 0):
        self.n = n
        self.seed = seed
        self.groups = max(0, min(int(groups), n))
        rng = self.rng = random.Random(seed)
        n_sys = round(n * 0.15)
        n_src = round(n * 0.25)
        n_con = n - n_sys - n_src
        kinds = ["concept"] * n_con + ["source"] * n_src + ["system"] * n_sys
        pages = self.pages = [_Page(i, k) for i, k in enumerate(kinds)]
        self.counts = {"concepts": n_con, "sources": n_src, "systems": n_sys}

        # creation order: random, sources tend to come later (hubs are
        # mostly concepts/systems); dates follow creation order
        keys = [rng.random() + (0.25 if k == "source" else 0.0) for k in kinds]
        order = self.order = sorted(range(n), key=keys.__getitem__)
        span = (_END - _START).days - 420
        for rank, i in enumerate(order):
            pg = pages[i]
            days = int(rank * span / max(n, 1)) + rng.randrange(30)
            pg.created = _START + _dt.timedelta(days=days)
            edit = rng.choice((0, 0, 3, 14, 45, 120, 390))
            pg.updated = min(_END, pg.created + _dt.timedelta(days=edit))

        self.taken: set = {"not-a-link", "inline-not-a-link"}
        self._areas(n_con)
        self._names()
        self._duplicates()
        for pg in pages:
            pg.path = f"{pg.folder}/{pg.base}.md"
        self._orphans()
        self._sections_tags_aliases()
        self._wanted_pool()
        self._links()
        self._attachments_and_external()

    # ---- folders / names -------------------------------------------------
    def _areas(self, n_con: int) -> None:
        rng = self.rng
        self.area_names: list = []
        if n_con < 300:
            return
        k = max(3, math.ceil(n_con / 1000))
        names = list(_AREAS)
        j = 0
        while len(names) < k:
            a, b = _AREAS[j % len(_AREAS)], _AREAS[(j * 7 + 3) % len(_AREAS)]
            if a != b and f"{a}-{b}" not in names:
                names.append(f"{a}-{b}")
            j += 1
        names = names[:k]
        rng.shuffle(names)
        self.area_names = names
        cum = list(itertools.accumulate(1.0 / math.sqrt(i + 1) for i in range(k)))
        for pg in self.pages:
            if pg.kind != "concept":
                continue
            if rng.random() < 0.05:
                continue  # stays at concepts/
            a = bisect.bisect(cum, rng.random() * cum[-1])
            pg.folder = "concepts/" + names[min(a, k - 1)]

    def _unique(self, make) -> str:
        for _ in range(1000):
            name = make()
            low = name.lower()
            if low not in self.taken:
                self.taken.add(low)
                return name
        raise RuntimeError("name space exhausted")  # pragma: no cover

    def _names(self) -> None:
        rng = self.rng
        M, N, S = _NAME_MODS, _NAME_NOUNS, _NAME_SUFFIXES

        def concept():
            r = rng.random()
            if r < 0.30:
                return f"{rng.choice(M)}-{rng.choice(N)}"
            if r < 0.55:
                a, b = rng.choice(N), rng.choice(N)
                return f"{a}-{b}" if a != b else f"{a}-{rng.choice(S)}"
            if r < 0.85:
                return f"{rng.choice(M)}-{rng.choice(N)}-{rng.choice(N)}"
            return f"{rng.choice(N)}-{rng.choice(N)}-{rng.choice(S)}"

        def system():
            p, s = rng.choice(_SYS_PREFIX), rng.choice(_SYS_SUFFIX)
            return (p.capitalize() + _SYS_UPPER.get(s, s) + rng.choice(_SYS_COMPONENT)
                    + rng.choice(_SYS_EDITION))

        for pg in self.pages:
            if pg.kind == "concept":
                pg.base = self._unique(concept)
                pg.title = _title_from_base(pg.base)
            elif pg.kind == "system":
                name = self._unique(system)
                pg.title = name
                # ~20 % keep spaces and capitals in the file name
                pg.base = name if rng.random() < 0.2 else name.lower().replace(" ", "-")
                self.taken.add(pg.base.lower())
            else:
                vendor = rng.choice(_VENDORS)
                published = pg.created - _dt.timedelta(days=rng.randrange(12))

                def slug(published=published, vendor=vendor):
                    r = rng.random()
                    if r < 0.25:
                        words = ["how", "we", rng.choice(_VERBS)[:-1].rstrip("e") + "ed",
                                 *rng.choice(N).split("-"), "at", "scale"]
                    elif r < 0.5:
                        words = ["lessons", "from", *rng.choice(M).split("-"),
                                 *rng.choice(N).split("-")]
                    elif r < 0.75:
                        words = [*rng.choice(N).split("-"), "and", *rng.choice(N).split("-"),
                                 "part", str(rng.randint(1, 4))]
                    else:
                        words = ["the", "convergence", "of", *rng.choice(N).split("-"), "and",
                                 *rng.choice(N).split("-")]
                    return f"{published.isoformat()}-{vendor}-" + "-".join(words)

                pg.base = self._unique(slug)
                words = pg.base.split("-")[3 + len(vendor.split("-")):]
                pretty = _title_from_base("-".join(words))
                vname = " ".join(w.capitalize() for w in vendor.split("-"))
                pg.title = f"{vname}: {pretty}"
                pg.meta = {
                    "url": f"https://{vendor}.example.com/blog/{'-'.join(words)}",
                    "author": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                    "published": published,
                }

    def _duplicates(self) -> None:
        rng, pages, n = self.rng, self.pages, self.n
        n_dup = n // 250 if n >= 250 else (1 if n >= 40 else 0)
        concepts = [p for p in pages if p.kind == "concept"]
        systems = [p for p in pages if p.kind == "system"]
        self.dup_pairs: list = []
        for i in range(n_dup):
            a = None
            for _ in range(50):
                c = rng.choice(concepts)
                if not c.dup:
                    a = c
                    break
            if a is None:
                break
            b = None
            if i % 2 == 1 and self.area_names:
                for _ in range(50):
                    c = rng.choice(concepts)
                    if not c.dup and c.folder != a.folder:
                        b = c
                        break
            if b is None and systems:
                for _ in range(50):
                    c = rng.choice(systems)
                    if not c.dup:
                        b = c
                        break
            if b is None:
                continue
            b.base, b.title = a.base, a.title
            a.dup = b.dup = True
            self.dup_pairs.append((a.idx, b.idx))

    def _orphans(self) -> None:
        n = self.n
        cands = [p.idx for p in self.pages if not p.dup]
        k = min(len(cands), round(n * P_ORPHAN)) if n >= 10 else 0
        for i in self.rng.sample(cands, k):
            self.pages[i].orphan = True

    def _sections_tags_aliases(self) -> None:
        rng = self.rng
        for pg in self.pages:
            pool = _HEADINGS[pg.kind]
            k = rng.randint(2, 5)
            pg.sections = [_FIRST_HEADING[pg.kind], *rng.sample(pool, k)]
            t = rng.randint(1, 4)
            tags: list = []
            for _ in range(t):
                tag = _TAGS[bisect.bisect(_TAG_CUM, rng.random() * _TAG_CUM[-1])]
                if tag not in tags:
                    tags.append(tag)
            pg.tags = tags
            pg.budget = max(3, min(22, round(rng.gauss(10.0, 3.2))))
            if rng.random() < 0.30:
                words = pg.title.replace(":", "").split()
                al = []
                if len(words) >= 2:
                    al.append("".join(w[0] for w in words if w[0].isalnum()).upper())
                if rng.random() < 0.4 or not al:
                    al.append(pg.title.lower() + (" (system)" if pg.kind == "system" else " notes"))
                pg.aliases = al
                for a in al:
                    self.taken.add(a.lower())

    def _wanted_pool(self) -> None:
        rng = self.rng
        k = max(10, self.n // 40)
        names = []

        def make():
            a, b = rng.choice(_NAME_MODS), rng.choice(_NAME_NOUNS)
            if rng.random() < 0.5:
                return f"{a}-{b}-{rng.choice(('notes', 'deep-dive', 'faq', 'rfc', 'glossary'))}"
            kind = rng.choice(("Design", "Overview", "Playbook", "Benchmarks"))
            return _title_from_base(f"{a}-{b}") + " " + kind

        for _ in range(k):
            names.append(self._unique(make))
        self.wanted = names
        self.wanted_cum = list(itertools.accumulate(
            1.0 / (i + 1) ** 1.1 for i in range(k)))

    # ---- links -----------------------------------------------------------
    def _form(self, src: _Page, t: int) -> tuple:
        rng, tp = self.rng, self.pages[t]
        form = _FORMS[bisect.bisect(_FORM_CUM, rng.random() * _FORM_CUM[-1])]
        sub = ""
        shown = ""
        if form == "heading":
            sub = rng.choice(tp.sections)
        elif form == "block":
            if tp.blocks and (len(tp.blocks) >= 3 or rng.random() < 0.5):
                sub = rng.choice(tp.blocks)
            else:
                sub = f"{rng.getrandbits(24):06x}"
                if sub not in tp.blocks:
                    tp.blocks.append(sub)
        elif form == "alias":
            if tp.aliases and rng.random() < 0.6:
                shown = rng.choice(tp.aliases)
            else:
                shown = tp.title if tp.kind == "system" else tp.title.lower()
        elif form in ("relmd", "baremd"):
            shown = tp.title if rng.random() < 0.7 else tp.title.lower()
        # duplicated basenames: half of the wikilinks use the full path
        # (heading/block links to them always do: the two pages differ inside)
        full = form == "path" or (tp.dup and (form in ("heading", "block") or (
            form in ("wiki", "alias", "dotmd", "embed") and rng.random() < 0.5)))
        return ("page", t, form, sub, shown, full)

    def _add(self, s: int, t: int, cover: bool = False) -> None:
        src = self.pages[s]
        link = self._form(src, t)
        if cover and self.pages[t].dup:
            # a duplicated basename gets one unambiguous incoming link, so it
            # is never an orphan whichever way a tool resolves bare [[base]]
            link = ("page", t, "path", "", "", True)
        src.links.append(link)
        src.linked.add(t)

    def _links(self) -> None:
        rng, pages, n = self.rng, self.pages, self.n
        rand = rng.random
        self.unresolved_count = 0
        if n < 2:
            return
        groups = self.groups
        members: list = [list(range(g, n, groups)) for g in range(groups)]
        # 1. coverage: every non-orphan gets one incoming link from a random page
        for pg in pages:
            if pg.orphan:
                continue
            if groups and len(members[pg.idx % groups]) > 1:
                own = members[pg.idx % groups]
                j = rng.randrange(len(own) - 1)
                if own[j] >= pg.idx:
                    j += 1
                self._add(own[j], pg.idx, cover=True)
                continue
            s = rng.randrange(n - 1)
            if s >= pg.idx:
                s += 1
            self._add(s, pg.idx, cover=True)

        # 2. "Seen in": concepts cite 0-4 sources, preferential among sources
        src_urn = [p.idx for p in pages if p.kind == "source" and not p.orphan]
        n_src = len(src_urn)
        group_src = [[t for t in src_urn if t % groups == g] for g in range(groups)]
        seen_cum = [0.2, 0.55, 0.75, 0.9, 1.0]
        for pg in pages:
            if pg.kind != "concept" or not n_src:
                continue
            if groups:
                src_urn = group_src[pg.idx % groups]
                n_src = len(src_urn)
                if not n_src:
                    continue
            k = min(n_src, bisect.bisect(seen_cum, rand()))
            chosen: list = []
            tries = 0
            while len(chosen) < k and tries < 40:
                tries += 1
                t = src_urn[int(rand() * len(src_urn))]
                if t not in chosen:
                    chosen.append(t)
                    src_urn.append(t)
            for t in chosen:
                r = rand()
                form = "wiki" if r < 0.85 else ("alias" if r < 0.95 else "path")
                pg.seen.append((t, form))
                pg.linked.add(t)

        # 3. preferential attachment in creation order
        urn: list = []
        group_urn: list = [[] for _ in range(groups)]
        deficit: list = []
        wanted, wcum = self.wanted, self.wanted_cum
        wtot = wcum[-1]

        def draw(p: int, pg: _Page) -> int:
            pool = urn
            if groups and rand() >= P_CROSS_GROUP and len(group_urn[p % groups]) > 1:
                pool = group_urn[p % groups]
            ln = len(pool)
            if not ln:
                return -1
            linked = pg.linked
            for _ in range(30):
                t = pool[int(rand() * ln)]
                if t != p and t not in linked:
                    return t
            return -1

        for p in self.order:
            pg = pages[p]
            if not pg.orphan:
                urn.append(p)
                if groups:
                    group_urn[p % groups].append(p)
            need = pg.budget - len(pg.links) - len(pg.seen)
            for _ in range(need):
                if rand() < P_UNRESOLVED:
                    name = wanted[bisect.bisect(wcum, rand() * wtot)]
                    r = rand()
                    form = "wiki" if r < 0.8 else ("alias" if r < 0.95 else "baremd")
                    pg.links.append(("unres", name, form, "", "", False))
                    self.unresolved_count += 1
                    continue
                t = draw(p, pg)
                if t < 0:
                    deficit.append(p)
                    continue
                self._add(p, t)
                urn.append(t)
                if groups:
                    group_urn[t % groups].append(t)
        # early pages could not find enough distinct targets: fill them now
        for p in deficit:
            pg = pages[p]
            t = draw(p, pg)
            if t >= 0:
                self._add(p, t)
                urn.append(t)
                if groups:
                    group_urn[t % groups].append(t)

        # 4. self links and frontmatter "related"
        for pg in pages:
            if not pg.orphan and rand() < 0.05:
                pg.links.append(("self", pg.idx, "self", rng.choice(pg.sections), "", False))
        for pg in pages:
            if pg.kind == "concept" and rand() < 0.10:
                t = draw(pg.idx, pg)
                if t >= 0:
                    pg.related = t

    def _attachments_and_external(self) -> None:
        rng, pages, n = self.rng, self.pages, self.n
        self.n_att = max(1, n // 200)
        self.att_embeds = 0
        for a in range(self.n_att):
            r = rng.random()
            k = 0 if r < 0.1 else (1 if r < 0.6 else (2 if r < 0.85 else 3))
            for _ in range(k):
                pg = pages[rng.randrange(n)]
                r = rng.random()
                form = "sized" if r < 0.6 else ("plain" if r < 0.85 else "md")
                size = rng.choice(("300x200", "300x200", "640x360", "400", "120x80"))
                pg.atts.append((a, form, size))
                self.att_embeds += 1
        self.ext_count = 0
        for pg in pages:
            if rng.random() < 0.35:
                for _ in range(rng.randint(1, 3)):
                    w = rng.choice(_NAME_NOUNS)
                    r = rng.random()
                    if r < 0.4:
                        url = f"https://docs.example.com/{w}"
                    elif r < 0.7:
                        yymm, num = rng.randint(1901, 2512), rng.randint(1000, 29999)
                        url = f"https://arxiv.example.org/abs/{yymm}.{num:05d}"
                    else:
                        url = f"https://github.com/example-org/{w}/blob/main/README.md"
                    text = rng.choice(("the docs", "the paper", "this write-up", "the README",
                                       "the benchmark", "the design doc"))
                    pg.ext.append((text, url))
                    self.ext_count += 1


# --------------------------------------------------------------------------
# Rendering (one RNG per page, seeded from (seed, page index))
# --------------------------------------------------------------------------

class _Prose:
    __slots__ = ("r", "rand")

    def __init__(self, r: random.Random):
        self.r = r
        self.rand = r.random

    def pick(self, seq):
        return seq[int(self.rand() * len(seq))]

    def np(self) -> str:
        """A singular noun phrase (sentence subjects)."""
        pick = self.pick
        if self.rand() < 0.5:
            return "the " + pick(_NOUNS)
        return "the " + pick(_ADJS) + " " + pick(_NOUNS)

    def obj(self) -> str:
        """A noun phrase that may be plural (objects)."""
        rand, pick = self.rand, self.pick
        x = rand()
        if x < 0.4:
            return "the " + pick(_NOUNS)
        if x < 0.75:
            return "the " + pick(_ADJS) + " " + pick(_NOUNS)
        return pick(_ADJS) + " " + pick(_PLURALS)

    def metric(self) -> str:
        f = self.pick(_METRIC_FMT)
        return f.format(self.pick(_METRIC_VALUES))

    def sentence(self) -> str:
        pick, np, ob, rand = self.pick, self.np, self.obj, self.rand
        x = int(rand() * 8)
        if x == 0:
            s = f"{np()} {pick(_VERBS)} {ob()} {pick(_PPS)}."
        elif x == 1:
            s = f"{np()} {pick(_VERBS)} {ob()} {pick(_CONNS)} {np()} {pick(_VERBS)} {ob()}."
        elif x == 2:
            s = (f"{pick(_OPENERS)} {np()} {pick(_VERBS)} {ob()} "
                 f"and {pick(_VERBS)} {ob()} {pick(_PPS)}.")
        elif x == 3:
            s = f"{np()} {pick(_VERBS)} {ob()}, {pick(_CONNS)} {np()} {pick(_VERBS)} {pick(_PPS)}."
        elif x == 4:
            s = f"Teams report {self.metric()} when {np()} {pick(_VERBS)} {ob()} {pick(_PPS)}."
        elif x == 5:
            s = f"This is why the {pick(_NOUNS)} matters: {np()} {pick(_VERBS)} {ob()}."
        elif x == 6:
            s = (f"Without {ob()}, {np()} {pick(_VERBS)} {pick(_PPS)} "
                 f"and {np()} {pick(_VERBS)} {ob()}.")
        else:
            s = f"{pick(_OPENERS)} {np()} {pick(_VERBS)} {self.metric()} {pick(_PPS)}."
        return s[0].upper() + s[1:]


def _link_text(plan: _Plan, src: _Page, link: tuple) -> str:
    kind, t, form, sub, shown, full = link
    if kind == "unres":
        if form == "wiki":
            return f"[[{t}]]"
        if form == "alias":
            return f"[[{t}|{t.lower().replace('-', ' ')}]]"
        return f"[{t.replace('-', ' ')}]({quote(t)}.md)"
    if kind == "self":
        return f"[[#{sub}]]"
    tp = plan.pages[t]
    lp = f"{tp.folder}/{tp.base}" if full else tp.base
    if form in ("wiki", "path"):
        return f"[[{lp}]]"
    if form == "alias":
        return f"[[{lp}|{shown}]]"
    if form == "heading":
        return f"[[{lp}#{sub}]]"
    if form == "block":
        return f"[[{lp}#^{sub}]]"
    if form == "dotmd":
        return f"[[{lp}.md]]"
    if form == "embed":
        return f"![[{lp}]]"
    if form == "relmd":
        rel = _relpath(tp.path, src.folder)
        if "/" in rel and not rel.startswith("../"):
            rel = "./" + rel  # concepts/x.md -> concepts/area/y.md: "./area/y.md"
        return f"[{shown}]({quote(rel)})"
    # baremd
    return f"[{shown}]({quote(tp.base)}.md)"


_LINK_SENT = (
    "See {L} for the details.",
    "This builds directly on {L}.",
    "{L} {v} {np} {pp}.",
    "Compare {L}, which {v} {np} {pp}.",
    "The same pattern shows up in {L}.",
    "{NP} {v} {np} (see {L}).",
    "As noted in {L}, {sp} {v} {pp}.",
    "{NP} is covered in more depth in {L}.",
)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _wc(s: str) -> int:
    return s.count(" ") + 1


def _render(plan: _Plan, pg: _Page) -> str:
    r = random.Random(plan.seed * 1_000_003 + pg.idx + 1)
    rand = r.random
    pr = _Prose(r)

    # ---- frontmatter ----------------------------------------------------
    fm = ["---", f"title: {_yaml_scalar(pg.title)}", f"type: {pg.kind}"]
    x = rand()
    if x < 0.1:
        fm.append(f"tags: {pg.tags[0]}")
    elif x < 0.55:
        fm.append("tags: [" + ", ".join(pg.tags) + "]")
    else:
        fm.append("tags:")
        fm.extend(f"  - {t}" for t in pg.tags)
    if pg.aliases:
        if rand() < 0.5:
            fm.append("aliases:")
            fm.extend(f"  - {_yaml_scalar(a)}" for a in pg.aliases)
        else:
            fm.append("aliases: [" + ", ".join(_yaml_scalar(a) for a in pg.aliases) + "]")
    fm.append(f"created: {pg.created.isoformat()}")
    fm.append(f"updated: {pg.updated.isoformat()}")
    if pg.kind == "source":
        fm.append(f"url: {pg.meta['url']}")
        fm.append(f"author: {pg.meta['author']}")
        fm.append(f"published: {pg.meta['published'].isoformat()}")
    if pg.related >= 0:
        fm.append(f'related: "[[{plan.pages[pg.related].base}]]"')
    fm.append("---")

    # ---- link sentences / bullets / blocks ------------------------------
    inline: list = []     # sentences to scatter in prose
    bullets: list = []    # "## Related" list items
    blocks: list = []     # standalone blocks (embeds, code, ...)
    extra_words = 0
    for link in pg.links:
        txt = _link_text(plan, pg, link)
        if link[2] == "embed":
            blocks.append(txt)
            extra_words += 1
        elif link[0] == "page" and rand() < 0.35:
            b = f"- {txt} — {pr.obj()}"
            bullets.append(b)
            extra_words += _wc(b)
        else:
            tpl = pr.pick(_LINK_SENT)
            s = tpl.format(L=txt, v=pr.pick(_VERBS), np=pr.obj(), pp=pr.pick(_PPS),
                           NP=_cap(pr.np()), sp=pr.np())
            inline.append(s)
            extra_words += _wc(s)
    for a, form, size in pg.atts:
        name = f"img-{a + 1:04d}.png"
        if form == "sized":
            blocks.append(f"![[{name}|{size}]]")
        elif form == "plain":
            blocks.append(f"![[{name}]]")
        else:
            rel = _relpath("attachments/" + name, pg.folder)
            blocks.append(f"![diagram of the {pr.pick(_NOUNS)}]({rel})")
        extra_words += 3
    for text, url in pg.ext:
        s = f"{_cap(pr.np())} {pr.pick(_VERBS)} {pr.obj()}; [{text}]({url}) has the numbers."
        inline.append(s)
        extra_words += _wc(s)
    if rand() < 0.30:
        s = f"Setting {pr.pick(_INLINE_CODE)} {pr.pick(_VERBS)} {pr.obj()} {pr.pick(_PPS)}."
        inline.append(s)
        extra_words += _wc(s)
    if rand() < 0.02:
        inline.append("The literal `[[inline-not-a-link]]` inside inline code is not a link.")
        extra_words += 10
    if rand() < 0.05:
        s = f"Roughly, {pr.pick(_MATH)} {pr.pick(_PPS)}."
        inline.append(s)
        extra_words += _wc(s)
    if rand() < 0.5:
        tag = "#streaming" if rand() < 0.55 else "#ai/inference"
        s = f"{_cap(pr.np())} {pr.pick(_VERBS)} {pr.obj()} {tag}"
        extra_tag = "#" + pr.pick(_TAGS)
        if rand() < 0.4 and extra_tag != tag:
            s += " " + extra_tag
        inline.append(s + ".")
        extra_words += _wc(s)
    if rand() < 0.15:
        lang = pr.pick(_CODE_LANGS)
        fence = "~~~" if rand() < 0.2 else "```"
        w = pr.pick(_NAME_NOUNS)
        code = "\n".join(line.format(w=w) for line in _CODE[lang])
        blocks.append(f"{fence}{lang}\n{code}\n{fence}")
        extra_words += _wc(code.replace("\n", " "))
    if rand() < 0.03:
        blocks.append("<!-- editor note: numbers pending verification against the source -->")
        extra_words += 9
    if rand() < 0.05:
        s = pr.sentence()
        blocks.append(f"> [!note] Operational tip\n> {s}")
        extra_words += 3 + _wc(s)
    if pg.kind == "source" and rand() < 0.4:
        s = pr.sentence()
        blocks.append(f'> "{s}"')
        extra_words += _wc(s)
    if rand() < 0.05:
        rows = [f"| {pr.pick(_NOUNS)} | {pr.metric()} |" for _ in range(r.randint(2, 4))]
        blocks.append("| component | figure |\n| --- | --- |\n" + "\n".join(rows))
        extra_words += 6 + 6 * len(rows)
    if rand() < 0.01:
        blocks.append("$$\nL_{p99} \\approx \\frac{B}{\\mu - \\lambda}\n$$")
        extra_words += 5

    # ---- prose ------------------------------------------------------------
    sections = pg.sections
    ns = len(sections)
    seen_words = 3 + 3 * len(pg.seen) if pg.kind == "concept" else 0
    head_words = 2 + sum(_wc(h) + 1 for h in sections) + (2 if bullets else 0)
    target = int(r.triangular(230, 770, 420))
    budget = max(28 * ns, target - extra_words - seen_words - head_words)
    sents: list = []
    words = 0
    while words < budget or len(sents) < 2 * ns:
        s = pr.sentence()
        sents.append(s)
        words += _wc(s)
    # split sentences into sections (>= 2 each), then paragraphs of 2-5
    paras_by_sec: list = []
    total = len(sents)
    pos = 0
    for si in range(ns):
        left_secs = ns - si
        remaining = total - pos
        if left_secs == 1:
            take = remaining
        else:
            avg = remaining / left_secs
            take = max(2, min(remaining - 2 * (left_secs - 1), int(avg * (0.6 + 0.8 * rand()))))
        chunk = sents[pos:pos + take]
        pos += take
        paras = []
        i = 0
        while i < len(chunk):
            k = r.randint(2, 5)
            if len(chunk) - (i + k) == 1:
                k += 1
            paras.append(chunk[i:i + k])
            i += k
        paras_by_sec.append(paras)
    flat = [(si, pi) for si, paras in enumerate(paras_by_sec) for pi in range(len(paras))]
    # scatter link sentences into random paragraphs at random positions
    for s in inline:
        si, pi = flat[int(rand() * len(flat))]
        para = paras_by_sec[si][pi]
        para.insert(int(rand() * (len(para) + 1)), s)
    # block ids on distinct paragraphs
    bl_at: dict = {}
    if pg.blocks:
        slots = r.sample(range(len(flat)), min(len(pg.blocks), len(flat)))
        for bid, slot in zip(pg.blocks, slots, strict=False):
            bl_at[flat[slot]] = bid
    # standalone blocks after random paragraphs
    after: dict = {}
    for b in blocks:
        key = flat[int(rand() * len(flat))]
        after.setdefault(key, []).append(b)

    out = fm
    out.append("")
    out.append(f"# {pg.title}")
    for si, h in enumerate(sections):
        out.append("")
        out.append(f"## {h}")
        for pi, para in enumerate(paras_by_sec[si]):
            text = " ".join(para)
            bid = bl_at.get((si, pi))
            if bid:
                text += f" ^{bid}"
            out.append("")
            out.append(text)
            for b in after.get((si, pi), ()):
                out.append("")
                out.append(b)
    if bullets:
        out.append("")
        out.append("## Related")
        out.append("")
        out.extend(bullets)
    if pg.kind == "concept":
        out.append("")
        out.append("## Seen in")
        out.append("")
        if not pg.seen:
            out.append("_No sources yet._")
        for t, form in pg.seen:
            tp = plan.pages[t]
            if form == "wiki":
                out.append(f"- [[{tp.base}]]")
            elif form == "alias":
                out.append(f"- [[{tp.base}|{tp.title}]]")
            else:
                out.append(f"- [[{tp.folder}/{tp.base}]]")
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def _prepare_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not force:
            raise FileExistsError(
                f"{out_dir} is not empty (use --force to regenerate a vault made by this script)")
        if not (out_dir / MARKER).is_file():
            raise FileExistsError(
                f"{out_dir} is not empty and has no {MARKER} marker: refusing to delete it")
        for child in sorted(out_dir.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def generate(out_dir: Path, pages: int, seed: int = 42, *, force: bool = False,
             groups: int = 0) -> dict:
    """Generate a vault of ``pages`` notes into ``out_dir`` and return a summary.

    ``out_dir`` must be missing or empty, unless ``force`` is true and it holds
    the ``.gen_vault`` marker of an earlier run (its contents are then deleted).
    ``groups`` > 0 plants that many groups of densely linked pages.
    """
    t0 = time.perf_counter()
    pages = int(pages)
    if pages < 1:
        raise ValueError("pages must be >= 1")
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, force)
    (out_dir / MARKER).write_text(
        f"generated by scripts/gen_vault.py (pages={pages} seed={seed}); "
        f"gen_vault.py --force may delete this directory's contents\n", encoding="utf-8")

    plan = _Plan(pages, seed, groups)
    folders = sorted({pg.folder for pg in plan.pages} | {"attachments"})
    for f in folders:
        (out_dir / f).mkdir(parents=True, exist_ok=True)

    total_bytes = 0
    for pg in plan.pages:
        data = _render(plan, pg).encode("utf-8")
        total_bytes += len(data)
        with open(out_dir / pg.path, "wb") as fh:
            fh.write(data)

    ar = random.Random(seed * 7919 + 17)
    for a in range(plan.n_att):
        w, h = ar.randint(4, 24), ar.randint(4, 16)
        c1 = (ar.randrange(256), ar.randrange(256), ar.randrange(256))
        c2 = (ar.randrange(256), ar.randrange(256), ar.randrange(256))
        data = _png(w, h, c1, c2)
        total_bytes += len(data)
        (out_dir / "attachments" / f"img-{a + 1:04d}.png").write_bytes(data)

    # ---- summary ---------------------------------------------------------
    indeg = [0] * pages
    forms: dict = {f: 0 for f in (*_FORMS, "self", "seen_in", "unresolved")}
    links = 0
    for pg in plan.pages:
        for kind, t, form, _sub, _shown, _full in pg.links:
            links += 1
            if kind == "page":
                forms[form] += 1
                indeg[t] += 1
            elif kind == "self":
                forms["self"] += 1
            else:
                forms["unresolved"] += 1
        for t, _form in pg.seen:
            links += 1
            forms["seen_in"] += 1
            indeg[t] += 1
        if pg.related >= 0:
            indeg[pg.related] += 1
    orphan_paths = [pg.path for pg in plan.pages if indeg[pg.idx] == 0]
    folder_pages: dict = {}
    for f in folders:
        folder_pages[f] = 0
    for pg in plan.pages:
        folder_pages[pg.folder] += 1
    folder_pages["attachments"] = plan.n_att
    top = sorted(range(pages), key=lambda i: (-indeg[i], i))[:5]
    wanted_counts: dict = {}
    for pg in plan.pages:
        for kind, t, *_ in pg.links:
            if kind == "unres":
                wanted_counts[t] = wanted_counts.get(t, 0) + 1
    seconds = time.perf_counter() - t0
    return {
        "out_dir": str(out_dir),
        "seed": seed,
        "pages": pages,
        "per_folder": dict(plan.counts),
        "folder_pages": folder_pages,
        "concept_areas": len(plan.area_names),
        "links": links,
        "links_by_form": forms,
        "unresolved_links": plan.unresolved_count,
        "unresolved_targets": len(wanted_counts),
        "top_unresolved": sorted(wanted_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5],
        "orphans": len(orphan_paths),
        "orphan_paths": orphan_paths,
        "duplicate_basenames": [(plan.pages[a].path, plan.pages[b].path)
                                for a, b in plan.dup_pairs],
        "frontmatter_links": sum(1 for pg in plan.pages if pg.related >= 0),
        "attachments": plan.n_att,
        "attachment_embeds": plan.att_embeds,
        "external_links": plan.ext_count,
        "max_in_degree": indeg[top[0]] if top else 0,
        "top_hubs": [(plan.pages[i].path, indeg[i]) for i in top],
        "bytes": total_bytes,
        "seconds": round(seconds, 3),
    }


def summary_line(s: dict) -> str:
    pf = s["per_folder"]
    areas = f" in {s['concept_areas']} areas" if s["concept_areas"] else ""
    return (f"gen_vault: {s['pages']} pages -> {s['out_dir']} "
            f"(concepts {pf['concepts']}{areas}, sources {pf['sources']}, "
            f"systems {pf['systems']}) | links {s['links']} "
            f"(unresolved {s['unresolved_links']} to {s['unresolved_targets']} names, "
            f"max in-degree {s['max_in_degree']}) | orphans {s['orphans']} | "
            f"attachments {s['attachments']} ({s['attachment_embeds']} embeds) | "
            f"{s['bytes'] / 1e6:.1f} MB | seed {s['seed']} | {s['seconds']:.2f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Generate a deterministic Obsidian-style benchmark vault.")
    ap.add_argument("out_dir", type=Path, help="output directory (missing or empty)")
    ap.add_argument("--pages", type=int, required=True,
                    help="number of notes, e.g. 1000, 10000, 100000")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--groups", type=int, default=0,
                    help="plant K groups of densely linked pages (default 0: none)")
    ap.add_argument("--force", action="store_true",
                    help=f"delete OUT_DIR's contents first (only if it holds a {MARKER} marker)")
    args = ap.parse_args(argv)
    try:
        s = generate(args.out_dir, args.pages, args.seed, force=args.force,
                     groups=args.groups)
    except (FileExistsError, ValueError) as e:
        print(f"gen_vault: error: {e}", file=sys.stderr)
        return 2
    print(summary_line(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
