-- The manifest as it was at time $2 (DuckLake time travel); $1 NULL = all quarters.
SELECT quarter, version, snapshot_id, created_at, run_id, tables, table_columns, lineage
FROM snapshots AT (TIMESTAMP => $2::TIMESTAMPTZ)
WHERE $1::VARCHAR IS NULL OR quarter = $1
ORDER BY quarter, version;
