-- Step 2: the items that are averaged. Each metric score is one item, except:
--   * the three infection scores (MRSA, E. coli, C. difficile) are first averaged into one item
--     `INF` (catalogue column item = 'INF');
--   * the finance plan and YTD-variance scores only feed combined finance (item is empty).
-- Each item is rounded to 2 dp, as NHS England publishes it, and the domain scores and the
-- average are means of those rounded items (the infection item is the mean of the unrounded
-- infection scores, then rounded). Reproduced from the official files: e.g. RTX Q1 2025/26
-- patient safety = mean(2.55, 3.80, 3.00) = 3.12, where unrounded items give 3.11.
-- Sums are exact DECIMALs: a parallel floating-point sum is not deterministic in its last bits,
-- which would flip x.xx5 roundings and ties on a cut-point from one run to the next.
CREATE OR REPLACE TABLE score_items AS
SELECT
    s.quarter,
    s.trust_code,
    s.peer_group,
    c.domain_id,
    c.item,
    CAST(round(sum(CAST(s.score AS DECIMAL(18, 12))) / count(*), 2) AS DOUBLE) AS score,
    count(*) AS n_metrics
FROM metric_scores AS s
JOIN catalogue AS c USING (score_id)
WHERE c.item IS NOT NULL AND s.score IS NOT NULL
GROUP BY ALL;
