-- The next version number of a quarter (the caller holds the store's write lock).
SELECT coalesce(max(version), 0) + 1 AS next_version
FROM snapshots
WHERE quarter = ?;
