-- Publish a snapshot: the last statement of the writing transaction before COMMIT.
INSERT INTO snapshots
    (quarter, version, snapshot_id, created_at, run_id, tables, table_columns, lineage)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);
