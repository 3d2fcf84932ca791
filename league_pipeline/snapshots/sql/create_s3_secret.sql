-- The credentials and address of one S3-compatible object store, for the lake's data files
-- under its URL (SCOPE). A temporary secret: it lives in this process's DuckDB instance only.
-- {name} is a name the code derives from the URL (league_s3_<hex>); every value is bound.
CREATE OR REPLACE TEMPORARY SECRET {name} (
    TYPE s3,
    KEY_ID ?,
    SECRET ?,
    SESSION_TOKEN ?,
    REGION ?,
    ENDPOINT ?,
    URL_STYLE ?,
    USE_SSL ?,
    SCOPE ?
)
