-- Step 3: domain scores (OF4000-OF4005) = unweighted mean of the domain's items, and domain
-- segments (OF4100-OF4105) = quartiles of each domain score pooled over all trusts of all types.
-- Exact arithmetic (as 04/05/06): the mean of the 2 dp items is rounded half-up to 12 dp in
-- integer arithmetic (exact_div; distinct means of n, n' <= 100 items differ by >= 1e-6, so 12 dp
-- keeps every order and tie), the quartiles are interpolated in DECIMAL and the segment is
-- decided on those DECIMALs. The stored score is the nearest DOUBLE to the 12 dp DECIMAL.
CREATE OR REPLACE TEMP MACRO exact_div(num, den) AS
    CAST(
        (CAST(CAST(num AS DECIMAL(38, 12)) * 1000000000000 AS HUGEINT) * 2 + den) // (2 * den)
        AS DECIMAL(38, 0)
    ) * CAST(0.000000000001 AS DECIMAL(13, 12));
-- quartile k (1-3) of a sorted list, interpolated linearly at position (n-1)k/4 (quantile_cont,
-- numpy's default) in exact DECIMAL: the fraction is 0, 1/4, 1/2 or 3/4, so 12 dp values give an
-- exact 14 dp cut-point
CREATE OR REPLACE TEMP MACRO exact_quartile(sorted, k) AS CAST(
    sorted[(len(sorted) - 1) * k // 4 + 1]
    + CAST((len(sorted) - 1) * k % 4 AS DECIMAL(18, 0)) * CAST(0.25 AS DECIMAL(3, 2))
        * (sorted[least((len(sorted) - 1) * k // 4 + 2, len(sorted))]
           - sorted[(len(sorted) - 1) * k // 4 + 1])
    AS DECIMAL(18, 14)
);
CREATE OR REPLACE TABLE domain_scores AS
WITH scores AS (
    SELECT
        quarter,
        trust_code,
        peer_group,
        domain_id,
        CAST(exact_div(sum(CAST(score AS DECIMAL(9, 2))), count(*)) AS DECIMAL(18, 12)) AS score,
        count(*) AS n_items
    FROM score_items
    GROUP BY ALL
),
sorted AS (
    SELECT quarter, domain_id, list(score ORDER BY score) AS scores
    FROM scores
    GROUP BY ALL
),
cuts AS (
    SELECT
        quarter,
        domain_id,
        exact_quartile(scores, 1) AS q25,
        exact_quartile(scores, 2) AS q50,
        exact_quartile(scores, 3) AS q75
    FROM sorted
)
SELECT
    s.quarter,
    s.trust_code,
    s.peer_group,
    s.domain_id,
    d.domain_segment_id,
    d.domain,
    CAST(s.score AS DOUBLE) AS score,
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
