-- The data path a DuckLake catalog recorded when it was created ({metadata}: its metadata
-- database).
SELECT value FROM {metadata}.ducklake_metadata WHERE key = 'data_path'
