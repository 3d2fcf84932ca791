-- AmbSYS (table ambsys: provider rows of each quarter's financial year to date) -> measures.
-- Response times as NHS England reports them: total seconds / incidents over the quarter's
-- months, rounded to whole seconds, in minutes (OF0017: Isle of Wight Q1 2025/26 =
-- 6,032,538 s / 3,968 = 1,520 s = 25.33 min). The 90th centile is published per month only:
-- the quarter's figure is the incident-weighted mean of the monthly centiles (an
-- approximation; no NOF metric uses it). Conveyance to ED (OF0028) is year to date:
-- incidents conveyed to an emergency department / all incidents, April to the quarter's end.
-- Table quarters(quarter, quarter_start) gives each quarter's first month.
CREATE OR REPLACE TABLE ambsys_measures AS
WITH in_quarter AS (
    SELECT a.*
    FROM ambsys AS a
    JOIN quarters AS q ON q.quarter = a.quarter
    WHERE a.month >= q.quarter_start
),
response AS (
    SELECT quarter, org_code, 'cat1_mean' AS measure, sum(A24) AS numerator, sum(A8) AS denominator,
           round(sum(A24) / sum(A8)) / 60 AS value_unrounded, count(*) AS months
    FROM in_quarter WHERE A24 IS NOT NULL AND A8 IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT quarter, org_code, 'cat2_mean', sum(A30), sum(A10),
           round(sum(A30) / sum(A10)) / 60, count(*)
    FROM in_quarter WHERE A30 IS NOT NULL AND A10 IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT quarter, org_code, 'cat2_p90', sum(A32 * A10), sum(A10),
           round(sum(A32 * A10) / sum(A10)) / 60, count(*)
    FROM in_quarter WHERE A32 IS NOT NULL AND A10 IS NOT NULL GROUP BY ALL
),
conveyance AS (
    SELECT quarter, org_code, 'conveyance_to_ed' AS measure, sum(A53) AS numerator,
           sum(A7) AS denominator, 100 * sum(A53) / sum(A7) AS value_unrounded,
           count(*) AS months
    FROM ambsys WHERE A53 IS NOT NULL AND A7 IS NOT NULL GROUP BY ALL
)
SELECT * FROM response WHERE denominator > 0
UNION ALL
SELECT * FROM conveyance WHERE denominator > 0;
