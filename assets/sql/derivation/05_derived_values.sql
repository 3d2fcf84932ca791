-- Every measure derived from the raw releases, one row per quarter, provider and measure,
-- with the metric it reproduces (metric_id, blank for measures NOF does not score), rounded
-- as NHS England publishes it (half away from zero) and kept unrounded for reconciliation.
-- Tables *_measures come from the steps before (empty when a source was not loaded); table
-- measures is assets/methodology/metric_sources.yaml.
CREATE OR REPLACE TABLE derived_values AS
WITH all_measures AS (
    SELECT * FROM ambsys_measures
    UNION ALL BY NAME SELECT * FROM ae_measures
    UNION ALL BY NAME SELECT * FROM cwt_measures
    UNION ALL BY NAME SELECT * FROM rtt_measures
)
SELECT
    d.quarter,
    d.org_code AS trust_code,
    d.measure,
    m.metric_id,
    round(d.value_unrounded, m.decimals) AS value,
    d.value_unrounded,
    m.unit,
    CAST(d.numerator AS DOUBLE) AS numerator,
    CAST(d.denominator AS DOUBLE) AS denominator,
    CAST(d.months AS INTEGER) AS months,
    m.source_kind
FROM all_measures AS d
JOIN measures AS m ON m.measure = d.measure
ORDER BY d.quarter, m.metric_id NULLS LAST, d.measure, d.org_code;
