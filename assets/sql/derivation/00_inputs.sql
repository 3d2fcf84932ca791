-- The derivation's input tables, created empty when their source was not loaded (a partial
-- run, or a test of one source), so that every later step runs. Columns as the raw readers
-- produce them (league_pipeline/derivation/*.py); only the columns the steps use are declared.
CREATE TABLE IF NOT EXISTS ambsys (
    quarter VARCHAR, month TIMESTAMP, org_code VARCHAR,
    A7 DOUBLE, A8 DOUBLE, A10 DOUBLE, A24 DOUBLE, A25 DOUBLE, A26 DOUBLE,
    A30 DOUBLE, A31 DOUBLE, A32 DOUBLE, A53 DOUBLE
);
CREATE TABLE IF NOT EXISTS ae_monthly (
    quarter VARCHAR, month TIMESTAMP, row_type VARCHAR, org_code VARCHAR,
    att_type1 DOUBLE, att_type2 DOUBLE, att_other DOUBLE,
    att_booked_type1 DOUBLE, att_booked_type2 DOUBLE, att_booked_other DOUBLE,
    over4_type1 DOUBLE, over4_type2 DOUBLE, over4_other DOUBLE,
    over4_booked_type1 DOUBLE, over4_booked_type2 DOUBLE, over4_booked_other DOUBLE
);
CREATE TABLE IF NOT EXISTS cwt_provider (
    quarter VARCHAR, month TIMESTAMP, standard VARCHAR, org_code VARCHAR,
    total DOUBLE, within_standard DOUBLE
);
CREATE TABLE IF NOT EXISTS rtt (
    quarter VARCHAR, month TIMESTAMP, org_code VARCHAR,
    total BIGINT, within_18_weeks BIGINT, over_52_weeks BIGINT
);
