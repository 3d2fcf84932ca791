-- Step 2: the items that are averaged. Each metric score is one item, except:
--   * the three infection scores (MRSA, E. coli, C. difficile) are first averaged into one item
--     `INF` (catalogue column item = 'INF');
--   * the finance plan and YTD-variance scores only feed combined finance (item is empty).
-- Each item is rounded to 2 dp, as NHS England publishes it, and the domain scores and the
-- average are means of those rounded items (the infection item is the mean of the unrounded
-- infection scores, then rounded). Reproduced from the official files: e.g. RTX Q1 2025/26
-- patient safety = mean(2.55, 3.80, 3.00) = 3.12, where unrounded items give 3.11.
-- Exact arithmetic: the metric scores are read back as the exact 12 dp DECIMALs they were stored
-- from (01_metric_scores.sql), summed exactly (a parallel floating-point sum is not even
-- deterministic in its last bits), and the mean is rounded half-up to 2 dp in integer
-- arithmetic (exact_mean_2dp), so no binary floating-point quotient ever decides an x.xx5
-- rounding. An item is a DECIMAL(9, 2) value stored as the nearest DOUBLE (2.13 is stored as the
-- double that prints 2.13); later steps read it back with CAST(score AS DECIMAL(9, 2)).
CREATE OR REPLACE TEMP MACRO exact_mean_2dp(total, n) AS
    CAST(
        (CAST(CAST(total AS DECIMAL(38, 12)) * 1000000000000 AS HUGEINT) * 2 + n * 10000000000)
            // (2 * n * 10000000000)
        AS DECIMAL(38, 0)
    ) * CAST(0.01 AS DECIMAL(3, 2));
CREATE OR REPLACE TABLE score_items AS
SELECT
    s.quarter,
    s.trust_code,
    s.peer_group,
    c.domain_id,
    c.item,
    CAST(exact_mean_2dp(sum(CAST(s.score AS DECIMAL(18, 12))), count(*)) AS DOUBLE) AS score,
    count(*) AS n_metrics
FROM metric_scores AS s
JOIN catalogue AS c USING (score_id)
WHERE c.item IS NOT NULL AND s.score IS NOT NULL
GROUP BY ALL;
