-- Step 3: domain scores (OF4000-OF4005) = unweighted mean of the domain's items, and domain
-- segments (OF4100-OF4105) = quartiles of each domain score pooled over all trusts of all types.
CREATE OR REPLACE TABLE domain_scores AS
WITH scores AS (
    SELECT
        quarter,
        trust_code,
        peer_group,
        domain_id,
        CAST(sum(CAST(score AS DECIMAL(9, 2))) / count(*) AS DOUBLE) AS score,
        count(*) AS n_items
    FROM score_items
    GROUP BY ALL
),
cuts AS (
    SELECT
        quarter,
        domain_id,
        quantile_cont(score, 0.25) AS q25,
        quantile_cont(score, 0.50) AS q50,
        quantile_cont(score, 0.75) AS q75
    FROM scores
    GROUP BY ALL
)
SELECT
    s.quarter,
    s.trust_code,
    s.peer_group,
    s.domain_id,
    d.domain_segment_id,
    d.domain,
    s.score,
    s.n_items,
    CASE
        WHEN s.score <= c.q25 THEN 1
        WHEN s.score <= c.q50 THEN 2
        WHEN s.score <= c.q75 THEN 3
        ELSE 4
    END AS segment
FROM scores AS s
JOIN cuts AS c USING (quarter, domain_id)
JOIN domains AS d USING (domain_id);
