-- The URLs of the files matching a glob on object storage (none: no rows, not an error).
SELECT file FROM glob(?) ORDER BY file LIMIT ?
