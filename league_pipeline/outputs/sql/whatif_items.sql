-- What-if, after step 1 of a batch: each scenario's recomputed metric scores, beside the
-- baseline scores that share an averaging item with them (the three infection scores make one
-- item; scenario_item_scores), are what step 2 (score items) needs for the items that can move.
CREATE OR REPLACE TABLE scenario_metric_scores AS
SELECT * FROM metric_scores;

CREATE OR REPLACE TABLE metric_scores AS
SELECT * FROM scenario_metric_scores
UNION ALL BY NAME
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_metric_scores AS b
JOIN scenario_item_scores AS s ON s.score_id = b.score_id
JOIN scenario_list AS l ON l.scenario = s.scenario;
