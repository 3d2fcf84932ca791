"""Snapshots: the versioned, immutable quarterly snapshots in DuckLake, with their lineage.

Belongs here: the store (``store.SnapshotStore``, the way in; write, read, time travel, diff,
export, backups and the check each in a module of its own), the lake catalog and its
safety (``lake``), lineage records, and the storage SQL (``sql/``).
"""
