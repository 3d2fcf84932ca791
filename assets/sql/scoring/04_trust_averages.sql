-- Step 4: average metric score (OF5002) = mean over all of the trust's items (infections
-- collapsed, finance = combined finance + productivity). It is NOT the mean of domain scores.
-- Exact arithmetic: the 2 dp items are summed as DECIMALs and the mean is rounded half-up to
-- 12 dp in integer arithmetic (exact_div), never a floating-point quotient: averages of n and n'
-- <= 100 items that differ at all differ by >= 1e-6, so 12 dp keeps every order and every tie
-- exact (two trusts whose items average to 2.13 both get exactly 2.130000000000). The stored
-- DOUBLE is the nearest double to that DECIMAL (it prints 2.13, not 2.1300000000000003), and
-- later steps read it back exactly with CAST(average_score AS DECIMAL(18, 12)).
CREATE OR REPLACE TEMP MACRO exact_div(num, den) AS
    CAST(
        (CAST(CAST(num AS DECIMAL(38, 12)) * 1000000000000 AS HUGEINT) * 2 + den) // (2 * den)
        AS DECIMAL(38, 0)
    ) * CAST(0.000000000001 AS DECIMAL(13, 12));
CREATE OR REPLACE TABLE trust_averages AS
SELECT
    quarter,
    trust_code,
    peer_group,
    CAST(
        CAST(exact_div(sum(CAST(score AS DECIMAL(9, 2))), count(*)) AS DECIMAL(18, 12)) AS DOUBLE
    ) AS average_score,
    count(*) AS n_items
FROM score_items
GROUP BY ALL;
