-- Step 4: average metric score (OF5002) = mean over all of the trust's items (infections
-- collapsed, finance = combined finance + productivity). It is NOT the mean of domain scores.
CREATE OR REPLACE TABLE trust_averages AS
SELECT quarter, trust_code, peer_group, avg(score) AS average_score, count(*) AS n_items
FROM score_items
GROUP BY ALL;
