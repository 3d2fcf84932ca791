-- What-if, before step 1 (metric scores) of a batch of scenarios. Each scenario is the whole
-- quarter under a quarter label of its own (scenario_list.quarter), so that every scoring step,
-- which works quarter by quarter, scores each scenario on its own: ranks, pools, cut-points and
-- the league table are all recomputed. The scenario's changes (scenario_changes: one trust's
-- values) replace, or add, that trust's rows; every other value is the snapshot's.
-- Step 1 is given only the metrics a scenario can move (scenario_values: the changed metrics,
-- and both finance metrics when one of them changes, for combined finance): a metric's scores
-- depend on that metric's values alone, so every other score is the baseline's
-- (whatif_items.sql). tests/unit/test_whatif.py checks the result against a complete rerun.
CREATE OR REPLACE TABLE trusts AS
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_trusts AS b
CROSS JOIN scenario_list AS l;

CREATE OR REPLACE TABLE metric_values AS
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_metric_values AS b
JOIN scenario_values AS v ON v.metric_id = b.metric_id
JOIN scenario_list AS l ON l.scenario = v.scenario
WHERE NOT EXISTS (
    SELECT 1
    FROM scenario_changes AS c
    WHERE c.scenario = v.scenario AND c.trust_code = b.trust_code AND c.metric_id = b.metric_id
)
UNION ALL BY NAME
SELECT l.quarter, c.trust_code, c.metric_id, c.value, c.unit, c.tiebreak
FROM scenario_changes AS c
JOIN scenario_list AS l ON l.scenario = c.scenario;

-- scores published as scores (SHMI, CQC) do not move: they stay the baseline's
CREATE OR REPLACE TABLE given_scores AS
SELECT * FROM base_given_scores WHERE false;

CREATE OR REPLACE TABLE run_scope AS
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_run_scope AS b
CROSS JOIN scenario_list AS l;

CREATE OR REPLACE TABLE published_scores AS
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_published_scores AS b
JOIN scenario_scores AS s ON s.score_id = b.score_id
JOIN scenario_list AS l ON l.scenario = s.scenario;
