-- Step 6: unadjusted segment (OF5003): 1 if average <= Q25, 2 if <= Q50, 3 if <= Q75, else 4.
-- Decided on exact DECIMALs: the stored DOUBLEs are read back as the 12 dp averages and 14 dp
-- cut-points they were stored from (04, 05), so floating-point noise never moves a trust that
-- sits on a cut-point.
CREATE OR REPLACE TABLE unadjusted_segments AS
WITH exact AS (
    SELECT
        a.*,
        CAST(a.average_score AS DECIMAL(18, 12)) AS average_exact,
        CAST(c.q25 AS DECIMAL(18, 14)) AS q25,
        CAST(c.q50 AS DECIMAL(18, 14)) AS q50,
        CAST(c.q75 AS DECIMAL(18, 14)) AS q75
    FROM trust_averages AS a
    JOIN segment_cut_points AS c USING (quarter)
)
SELECT
    quarter,
    trust_code,
    peer_group,
    average_score,
    n_items,
    CASE
        WHEN average_exact <= q25 THEN 1
        WHEN average_exact <= q50 THEN 2
        WHEN average_exact <= q75 THEN 3
        ELSE 4
    END AS unadjusted_segment
FROM exact;
