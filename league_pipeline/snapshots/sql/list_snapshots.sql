-- The manifest now: every snapshot, or one quarter's ($1 NULL = all quarters).
SELECT quarter, version, snapshot_id, created_at, run_id, tables, table_columns, lineage
FROM snapshots
WHERE $1::VARCHAR IS NULL OR quarter = $1
ORDER BY quarter, version;
