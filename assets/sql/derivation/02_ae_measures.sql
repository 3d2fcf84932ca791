-- Monthly A&E CSVs (table ae_monthly: the quarter's three months, provider and total rows)
-- -> 4-hour performance (OF0013) per provider and quarter: attendances of every type (type 1,
-- type 2, other departments, booked appointments included) admitted, transferred or
-- discharged within four hours / all attendances, over the quarter's months. The TOTAL row is
-- a national aggregate and is left out. NHS England attributes some other providers' type 3
-- activity to acute trusts in NOF, which this provider-level file cannot reproduce: the
-- reconciliation lists those trusts.
CREATE OR REPLACE TABLE ae_measures AS
WITH totals AS (
    SELECT
        quarter,
        org_code,
        sum(att_type1 + att_type2 + att_other + att_booked_type1 + att_booked_type2
            + att_booked_other) AS attendances,
        sum(over4_type1 + over4_type2 + over4_other + over4_booked_type1 + over4_booked_type2
            + over4_booked_other) AS over_4_hours,
        count(DISTINCT month) AS months
    FROM ae_monthly
    WHERE row_type = 'provider'
    GROUP BY ALL
)
SELECT
    quarter,
    org_code,
    'ae_4_hours' AS measure,
    attendances - over_4_hours AS numerator,
    attendances AS denominator,
    100 * (attendances - over_4_hours) / attendances AS value_unrounded,
    months
FROM totals
WHERE attendances > 0;
