-- Setup, run before every step: the optional inputs, created empty when the caller did not
-- load them (the engine called directly, e.g. by the tests' layered checks).
--   run_scope          the peer groups in the run, per quarter (empty: compute everything)
--   published_*        NHS England's published layers (league_pipeline.scoring.official)
CREATE TABLE IF NOT EXISTS run_scope (quarter VARCHAR, peer_group VARCHAR);
CREATE TABLE IF NOT EXISTS published_scores (
    quarter VARCHAR, trust_code VARCHAR, score_id VARCHAR, score DOUBLE
);
CREATE TABLE IF NOT EXISTS published_domains (
    quarter VARCHAR, trust_code VARCHAR, domain_id VARCHAR, score DOUBLE, segment DOUBLE
);
CREATE TABLE IF NOT EXISTS published_summary (
    quarter VARCHAR, trust_code VARCHAR, average_score DOUBLE, unadjusted_segment DOUBLE,
    adjusted_segment DOUBLE, final_segment DOUBLE, deficit_flag DOUBLE, in_rsp DOUBLE,
    rank DOUBLE
);
-- quarters whose run leaves out a peer group: their pooled cut-points cannot be computed
CREATE OR REPLACE TEMP VIEW partial_quarters AS
SELECT quarter
FROM run_scope
GROUP BY quarter
HAVING count(DISTINCT peer_group) < (
    SELECT count(DISTINCT g.peer_group)
    FROM (SELECT unnest(string_split(peer_groups, '|')) AS peer_group FROM catalogue) AS g
);
