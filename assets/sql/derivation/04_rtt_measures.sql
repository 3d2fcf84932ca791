-- RTT incomplete pathways per provider at the quarter's last month (table rtt, built by
-- rtt_provider_totals.sql) -> OF0023 (waiting 18 weeks or less) and OF0003 (waiting over 52
-- weeks), as percentages of the pathways with a known clock start (Total; patients with an
-- unknown clock start date are outside both numerator and denominator [inferred]).
CREATE OR REPLACE TABLE rtt_measures AS
SELECT quarter, org_code, 'rtt_18_weeks' AS measure, within_18_weeks AS numerator,
       total AS denominator, 100 * within_18_weeks / total AS value_unrounded, 1 AS months
FROM rtt WHERE total > 0
UNION ALL
SELECT quarter, org_code, 'rtt_over_52_weeks', over_52_weeks, total,
       100 * over_52_weeks / total, 1
FROM rtt WHERE total > 0;
