-- What-if: the league-table row (average, segments, flags, rank) of each scenario's trust.
SELECT t.*
FROM league_table AS t
JOIN scenario_list AS l ON l.quarter = t.quarter AND l.trust_code = t.trust_code
ORDER BY l.scenario;
