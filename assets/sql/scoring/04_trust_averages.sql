-- Step 4: average metric score (OF5002) = mean over all of the trust's items (infections
-- collapsed, finance = combined finance + productivity). It is NOT the mean of domain scores.
-- Exact DECIMAL sums keep the result identical from run to run (see 02_score_items.sql).
CREATE OR REPLACE TABLE trust_averages AS
SELECT
    quarter,
    trust_code,
    peer_group,
    CAST(sum(CAST(score AS DECIMAL(9, 2))) / count(*) AS DOUBLE) AS average_score,
    count(*) AS n_items
FROM score_items
GROUP BY ALL;
