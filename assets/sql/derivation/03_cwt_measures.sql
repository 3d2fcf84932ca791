-- CWT-CRS provider extract (table cwt_provider: the quarter's months) -> cancer standards per
-- provider and quarter: sum of WITHIN STANDARD / sum of TOTAL TREATED over every row of the
-- provider (all routes, modalities and cancer types) in the quarter's months. Reproduces NOF
-- OF0010 (28-day Faster Diagnosis Standard) and OF0011 (62-day) for all 118 acute trusts in
-- Q1 2025/26. Table standards(standard, measure) maps the published STANDARD to a measure.
CREATE OR REPLACE TABLE cwt_measures AS
SELECT
    c.quarter,
    c.org_code,
    s.measure,
    sum(c.within_standard) AS numerator,
    sum(c.total) AS denominator,
    100 * sum(c.within_standard) / sum(c.total) AS value_unrounded,
    count(DISTINCT c.month) AS months
FROM cwt_provider AS c
JOIN standards AS s ON s.standard = c.standard
GROUP BY ALL
HAVING sum(c.total) > 0;
