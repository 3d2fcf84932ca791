-- What-if: the metric scores step 1 recomputed for each scenario's trust.
SELECT s.*
FROM scenario_metric_scores AS s
JOIN scenario_list AS l ON l.quarter = s.quarter AND l.trust_code = s.trust_code
ORDER BY l.scenario, s.score_id;
