"""Snapshots: the versioned, immutable quarterly snapshots in DuckLake, with their lineage.

Belongs here: the store (write, read, time travel, diff, export), the lake catalog and its
safety (``lake``), lineage records, and the storage SQL (``sql/``).
"""
