-- Step 8: the league table, one per peer group: order by adjusted segment (1-4; segment 5 is
-- not shown), then by the average score rounded to 2 dp; ties share the lower rank number.
-- The rounding is exact: the stored average is read back as its 12 dp DECIMAL
-- (04_trust_averages.sql) and rounded half-up in DECIMAL, never as a DOUBLE.
CREATE OR REPLACE TABLE league_table AS
SELECT
    s.quarter,
    s.peer_group,
    s.trust_code,
    t.trust_name,
    t.region,
    t.trust_subtype,
    s.average_score,
    s.n_items,
    s.unadjusted_segment,
    s.deficit_flag,
    s.adjusted_segment,
    s.in_rsp,
    s.final_segment,
    rank() OVER (
        PARTITION BY s.quarter, s.peer_group
        ORDER BY s.adjusted_segment, round(CAST(s.average_score AS DECIMAL(18, 12)), 2)
    ) AS rank
FROM trust_segments AS s
JOIN trusts AS t USING (quarter, trust_code);
