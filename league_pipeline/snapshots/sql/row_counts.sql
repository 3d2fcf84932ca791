-- Rows of one lake table per snapshot (quarter, version), to compare with the manifest's
-- counts. {table} is a validated, quoted table name.
SELECT quarter, snapshot_version, count(*) AS n
FROM {table}
GROUP BY quarter, snapshot_version
ORDER BY quarter, snapshot_version;
