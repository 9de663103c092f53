"""The mirror: its schema (schema.py) and its only writer (writer.py)."""

from .check import (
    MirrorDamaged,
    WrongVault,
    check_mirror,
    is_damage,
    move_aside,
    remove_mirror,
    repair_mirror,
    unfinished_mirror,
)
from .schema import MIGRATIONS, PAGE_CHILD_TABLES, SCHEMA_VERSION, MetaKey
from .writer import (
    WAL_SIZE_LIMIT,
    AnchoredLink,
    CoreMetrics,
    HeavyMetrics,
    KnownFile,
    LayoutPosition,
    LinkRow,
    Mirror,
    MirrorError,
    NamedLink,
    PageWrite,
    chunks,
    connect,
    create_private_file,
    marks,
    publish_scratch,
    remove_stale_scratch,
    replace_private_file,
    scratch_path,
)

__all__ = [
    "MIGRATIONS", "PAGE_CHILD_TABLES", "WAL_SIZE_LIMIT", "SCHEMA_VERSION", "AnchoredLink",
    "CoreMetrics",
    "HeavyMetrics", "KnownFile", "LayoutPosition", "LinkRow", "MetaKey", "Mirror",
    "MirrorError", "NamedLink", "PageWrite", "chunks", "connect", "create_private_file", "marks",
    "replace_private_file", "publish_scratch", "remove_stale_scratch", "scratch_path",
    "MirrorDamaged", "WrongVault", "check_mirror", "is_damage",
    "move_aside", "remove_mirror", "repair_mirror", "unfinished_mirror",
]
