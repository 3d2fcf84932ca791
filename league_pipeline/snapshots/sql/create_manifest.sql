-- The manifest of the snapshot store: one row per published snapshot (quarter + version).
-- A snapshot's data rows and its manifest row are committed in one DuckLake transaction, so a
-- row here means every table it lists is complete. Rows are never updated or deleted.
CREATE TABLE IF NOT EXISTS snapshots (
    quarter VARCHAR NOT NULL,        -- NHS label, e.g. '2025/26 Q1'
    version INTEGER NOT NULL,        -- 1, 2, ... per quarter
    snapshot_id VARCHAR NOT NULL,    -- '2025-26-q1/v3'
    created_at TIMESTAMPTZ NOT NULL, -- UTC, taken inside the writing transaction
    run_id VARCHAR,                  -- Dagster run id (or NULL outside Dagster)
    tables VARCHAR NOT NULL,         -- JSON: table name -> row count
    table_columns VARCHAR NOT NULL,  -- JSON: table name -> column names written, in order
    lineage VARCHAR NOT NULL         -- JSON: input hashes and URLs, schema/methodology/code versions
);
