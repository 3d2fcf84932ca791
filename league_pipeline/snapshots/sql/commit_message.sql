-- Label the DuckLake commit with the snapshot id, so ducklake_snapshots() reads as an audit log.
-- (The lake is the connection's current database: see league_pipeline.snapshots.lake.attached.)
CALL ducklake_set_commit_message(current_database(), ?, ?, extra_info => ?);
