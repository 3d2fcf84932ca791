-- Files DuckLake has scheduled for deletion (expired snapshots, compaction): on disk but
-- referenced by no snapshot, and not orphans. {metadata} as in catalog_files.sql.
SELECT path FROM {metadata}.ducklake_files_scheduled_for_deletion;
