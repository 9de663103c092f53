"""The mirror: its schema (schema.py) and its only writer (writer.py)."""

from .schema import MIGRATIONS, PAGE_CHILD_TABLES, SCHEMA_VERSION, MetaKey
from .writer import (
    AnchoredLink,
    CoreMetrics,
    FileState,
    HeavyMetrics,
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
    replace_private_file,
)

__all__ = [
    "MIGRATIONS", "PAGE_CHILD_TABLES", "SCHEMA_VERSION", "AnchoredLink", "CoreMetrics",
    "FileState", "HeavyMetrics", "LayoutPosition", "LinkRow", "MetaKey", "Mirror",
    "MirrorError", "NamedLink", "PageWrite", "chunks", "connect", "create_private_file", "marks",
    "replace_private_file",
]
