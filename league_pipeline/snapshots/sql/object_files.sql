-- The files under a list of object storage URLs, with their sizes (the contents are not read).
SELECT filename, size FROM read_blob(?)
