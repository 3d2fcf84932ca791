-- Step 2: the items that are averaged. Each metric score is one item, except:
--   * the three infection scores (MRSA, E. coli, C. difficile) are first averaged into one item
--     `INF` (catalogue column item = 'INF');
--   * the finance plan and YTD-variance scores only feed combined finance (item is empty).
CREATE OR REPLACE TABLE score_items AS
SELECT
    s.quarter,
    s.trust_code,
    s.peer_group,
    c.domain_id,
    c.item,
    avg(s.score) AS score,
    count(*) AS n_metrics
FROM metric_scores AS s
JOIN catalogue AS c USING (score_id)
WHERE c.item IS NOT NULL AND s.score IS NOT NULL
GROUP BY ALL;
