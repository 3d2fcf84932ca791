-- What-if: the segments (average, unadjusted, flags, adjusted, final) of each scenario's trust.
SELECT t.*
FROM trust_segments AS t
JOIN scenario_list AS l ON l.quarter = t.quarter AND l.trust_code = t.trust_code
ORDER BY l.scenario;
