-- Step 6: unadjusted segment (OF5003): 1 if average <= Q25, 2 if <= Q50, 3 if <= Q75, else 4.
CREATE OR REPLACE TABLE unadjusted_segments AS
SELECT
    a.quarter,
    a.trust_code,
    a.peer_group,
    a.average_score,
    a.n_items,
    CASE
        WHEN a.average_score <= c.q25 THEN 1
        WHEN a.average_score <= c.q50 THEN 2
        WHEN a.average_score <= c.q75 THEN 3
        ELSE 4
    END AS unadjusted_segment
FROM trust_averages AS a
JOIN segment_cut_points AS c USING (quarter);
