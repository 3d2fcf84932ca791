-- What-if, after the averages of a batch: every trust's average in each scenario (recomputed
-- for the trusts whose items changed, the baseline's for the others) for the cut-points, and
-- the published summary (which a run that left a peer group out takes its cut-points from).
CREATE OR REPLACE TABLE trust_averages AS
SELECT * FROM trust_averages
UNION ALL BY NAME
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_trust_averages AS b
CROSS JOIN scenario_list AS l
WHERE NOT EXISTS (
    SELECT 1
    FROM scenario_trusts AS t
    WHERE t.scenario = l.scenario AND t.trust_code = b.trust_code
);

CREATE OR REPLACE TABLE published_summary AS
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_published_summary AS b
CROSS JOIN scenario_list AS l;
