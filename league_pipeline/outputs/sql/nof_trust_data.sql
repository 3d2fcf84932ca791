-- A snapshot as NHS England's "trust data" file: one row per trust x metric, in the published
-- long layout (column names as league_pipeline.formats.readers normalises them: Sub_domain, Units
-- 'percent'; the writer turns them back into the published spelling).
--   OF0xxx  metric values as input; median and quartiles per peer group (linear interpolation);
--           Rank = the published within-type rank carried in with the value, else the
--           competition rank by the metric's direction
--   OF1xxx  metric scores (2 dp); Rank = the Rank of the metric's OF0 row
--   OF40xx  domain scores (2 dp), ranked within the peer group; OF41xx domain segments
--   OF5000 adjusted segment and OF5002 average score (Rank = league rank), OF5003 unadjusted
--           segment, OF5004 financial override flag, OF5005 final segment, OF5007 RSP flag
-- Wording (Domain, Sub_domain, Metric_description, Reporting_date) comes from the published
-- source files when the snapshot's inputs are at hand (table published_metadata), else from the
-- metric catalogue (OF0/OF1 rows) or generated as NHS England words it (domain and summary
-- rows). Parameter 1: the quarter as NHS England writes it ('Q1 2025/26'), the
-- Reporting_date of the domain and summary rows. Rows ordered by Metric_ID, Trust_code.
WITH trust AS (
    SELECT t.quarter, t.trust_code, t.trust_name, t.region, t.trust_subtype, t.peer_group,
           g.trust_type
    FROM trusts AS t
    JOIN peer_groups AS g USING (peer_group)
),
value_rows AS (
    SELECT
        v.quarter,
        v.trust_code,
        t.peer_group,
        v.metric_id,
        v.value,
        v.unit,
        round(quantile_cont(v.value, 0.5) OVER by_metric, 2) AS median_value,
        round(quantile_cont(v.value, 0.25) OVER by_metric, 2) AS lower_quartile,
        round(quantile_cont(v.value, 0.75) OVER by_metric, 2) AS upper_quartile,
        coalesce(
            v.tiebreak,
            CASE c.direction
                WHEN 'lower' THEN rank() OVER (
                    PARTITION BY v.quarter, t.peer_group, v.metric_id ORDER BY v.value
                )
                WHEN 'higher' THEN rank() OVER (
                    PARTITION BY v.quarter, t.peer_group, v.metric_id ORDER BY v.value DESC
                )
            END
        ) AS rank
    FROM metric_values AS v
    JOIN trust AS t USING (quarter, trust_code)
    LEFT JOIN catalogue AS c ON c.value_id = v.metric_id
    WHERE v.value IS NOT NULL
    WINDOW by_metric AS (PARTITION BY v.quarter, t.peer_group, v.metric_id)
),
score_rows AS (
    SELECT
        s.quarter,
        s.trust_code,
        t.peer_group,
        s.score_id AS metric_id,
        CAST(round(CAST(s.score AS DECIMAL(18, 12)), 2) AS DOUBLE) AS value,  -- the exact score
        'score' AS unit,
        v.rank
    FROM metric_scores AS s
    JOIN trust AS t USING (quarter, trust_code)
    LEFT JOIN catalogue AS c USING (score_id)
    LEFT JOIN value_rows AS v
        ON v.quarter = s.quarter AND v.trust_code = s.trust_code AND v.metric_id = c.value_id
    WHERE s.score IS NOT NULL
),
domain_rows AS (
    SELECT
        d.quarter,
        d.trust_code,
        t.peer_group,
        d.domain_id AS metric_id,
        d.domain,
        CAST(round(CAST(d.score AS DECIMAL(18, 12)), 2) AS DOUBLE) AS value,
        rank() OVER (
            PARTITION BY d.quarter, t.peer_group, d.domain_id
            ORDER BY round(CAST(d.score AS DECIMAL(18, 12)), 2)
        ) AS rank
    FROM domain_scores AS d
    JOIN trust AS t USING (quarter, trust_code)
),
summary_rows AS (
    SELECT quarter, trust_code, 'OF5000' AS metric_id, CAST(adjusted_segment AS DOUBLE) AS value,
           'segment' AS unit, 'Adjusted segment' AS description, CAST(rank AS DOUBLE) AS rank
    FROM league_table
    UNION ALL
    SELECT quarter, trust_code, 'OF5002',
           CAST(round(CAST(average_score AS DECIMAL(18, 12)), 2) AS DOUBLE), 'score',
           'Average metric score', CAST(rank AS DOUBLE)
    FROM league_table
    UNION ALL
    SELECT quarter, trust_code, 'OF5003', CAST(unadjusted_segment AS DOUBLE), 'segment',
           'Unadjusted segment', NULL
    FROM league_table
    UNION ALL
    SELECT quarter, trust_code, 'OF5004', CASE WHEN deficit_flag THEN 1.0 ELSE 0.0 END, 'flag',
           'Financial override', NULL
    FROM league_table
    UNION ALL
    SELECT quarter, trust_code, 'OF5005', CAST(final_segment AS DOUBLE), 'segment',
           'Final segment score override', NULL
    FROM league_table
    UNION ALL
    SELECT quarter, trust_code, 'OF5007', CASE WHEN in_rsp THEN 1.0 ELSE 0.0 END, 'flag',
           'Is the organisation in the Recovery Support Programme?', NULL
    FROM league_table
),
metric_rows AS (
    SELECT quarter, trust_code, peer_group, metric_id, value, unit,
           median_value, lower_quartile, upper_quartile, rank
    FROM value_rows
    UNION ALL
    SELECT quarter, trust_code, peer_group, metric_id, value, unit,
           NULL, NULL, NULL, rank
    FROM score_rows
),
described AS (
    SELECT
        m.*,
        -- the published wording of this id, else of its value/score twin, else the catalogue's
        coalesce(p.domain, pt.domain, c.domain) AS domain,
        coalesce(p.sub_domain, pt.sub_domain, c.sub_domain) AS sub_domain,
        coalesce(p.description, pt.description, c.short_name) AS description,
        coalesce(p.reporting_date, pt.reporting_date) AS reporting_date
    FROM metric_rows AS m
    LEFT JOIN catalogue AS c ON m.metric_id IN (c.score_id, c.value_id)
    LEFT JOIN published_metadata AS p
        ON p.peer_group = m.peer_group AND p.metric_id = m.metric_id
    LEFT JOIN published_metadata AS pt
        ON pt.peer_group = m.peer_group
        AND pt.metric_id = CASE WHEN m.metric_id = c.score_id THEN c.value_id ELSE c.score_id END
),
generated AS (
    SELECT quarter, trust_code, domain, sub_domain, metric_id, description, reporting_date,
           unit, value, median_value, lower_quartile, upper_quartile, rank
    FROM described
    UNION ALL
    SELECT quarter, trust_code, domain, domain || ' domain score', metric_id,
           domain || ' domain score', $1, 'score', value, NULL, NULL, NULL, rank
    FROM domain_rows
    UNION ALL
    SELECT d.quarter, d.trust_code, d.domain, d.domain || ' domain segment',
           d.domain_segment_id, d.domain || ' domain segment', $1, 'segment',
           CAST(d.segment AS DOUBLE), NULL, NULL, NULL, NULL
    FROM domain_scores AS d
    UNION ALL
    SELECT quarter, trust_code, 'Summary', 'Summary', metric_id, description, $1, unit, value,
           NULL, NULL, NULL, rank
    FROM summary_rows
),
all_rows AS (
    -- domain and summary rows: the published wording of the id where the source is at hand
    -- (it has quirks, e.g. OF4002's sub-domain is 'Patient safety' and the Q1 files leave the
    -- RSP rows' Reporting_date blank), else the wording generated above
    SELECT
        g.quarter, g.trust_code,
        CASE WHEN p.metric_id IS NULL THEN g.domain ELSE p.domain END AS domain,
        CASE WHEN p.metric_id IS NULL THEN g.sub_domain ELSE p.sub_domain END AS sub_domain,
        g.metric_id,
        CASE WHEN p.metric_id IS NULL THEN g.description ELSE p.description END AS description,
        CASE WHEN p.metric_id IS NULL THEN g.reporting_date ELSE p.reporting_date END
            AS reporting_date,
        g.unit, g.value, g.median_value, g.lower_quartile, g.upper_quartile, g.rank
    FROM generated AS g
    JOIN trust AS t USING (quarter, trust_code)
    LEFT JOIN (  -- filtered before the join, which can then match on equal keys (hash join)
        SELECT * FROM published_metadata WHERE regexp_matches(metric_id, '^OF[45]')
    ) AS p
        ON p.peer_group = t.peer_group AND p.metric_id = g.metric_id
)
SELECT
    r.quarter AS "Quarter",
    t.region AS "Region",
    t.trust_type AS "Trust_type",
    t.trust_subtype AS "Trust_subtype",
    r.trust_code AS "Trust_code",
    t.trust_name AS "Trust_name",
    r.domain AS "Domain",
    r.sub_domain AS "Sub_domain",
    r.metric_id AS "Metric_ID",
    r.description AS "Metric_description",
    r.reporting_date AS "Reporting_date",
    r.unit AS "Units",
    CAST(r.value AS DOUBLE) AS "Value",
    CAST(r.median_value AS DOUBLE) AS "Median_value",
    CAST(r.lower_quartile AS DOUBLE) AS "Lower_quartile",
    CAST(r.upper_quartile AS DOUBLE) AS "Upper_quartile",
    CAST(r.rank AS DOUBLE) AS "Rank",
    t.peer_group
FROM all_rows AS r
JOIN trust AS t USING (quarter, trust_code)
ORDER BY t.peer_group, r.metric_id, r.trust_code;
