-- Every file the catalog references: data files and delete files, with the table they belong
-- to and the schema/table folders a relative path starts from (data path / schema / table /
-- file). {metadata} is DuckLake's metadata database of the attached lake
-- ("__ducklake_metadata_<alias>"), an identifier the caller quotes.
WITH tables AS (
    SELECT table_id,
           arg_min(schema_id, begin_snapshot) AS schema_id,
           arg_max(table_name, begin_snapshot) AS table_name,
           arg_min(path, begin_snapshot) AS path,
           arg_min(path_is_relative, begin_snapshot) AS path_is_relative
    FROM {metadata}.ducklake_table
    GROUP BY table_id
), schemas AS (
    SELECT schema_id,
           arg_min(path, begin_snapshot) AS path,
           arg_min(path_is_relative, begin_snapshot) AS path_is_relative
    FROM {metadata}.ducklake_schema
    GROUP BY schema_id
), files AS (
    SELECT 'data' AS kind, table_id, path, path_is_relative, file_size_bytes
    FROM {metadata}.ducklake_data_file
    UNION ALL
    SELECT 'delete' AS kind, table_id, path, path_is_relative, file_size_bytes
    FROM {metadata}.ducklake_delete_file
)
SELECT f.kind, t.table_name,
       s.path AS schema_path, s.path_is_relative AS schema_is_relative,
       t.path AS table_path, t.path_is_relative AS table_is_relative,
       f.path, f.path_is_relative, f.file_size_bytes
FROM files AS f
LEFT JOIN tables AS t USING (table_id)
LEFT JOIN schemas AS s ON s.schema_id = t.schema_id
ORDER BY f.kind, t.table_name, f.path;
