"""vaultsync: a live SQLite mirror and knowledge graph of an Obsidian-style vault."""

__version__ = "0.1.0"
