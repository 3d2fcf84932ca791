-- Step 5: segment cut-points = quartiles (linear interpolation, as pandas/numpy's default) of
-- the average metric score over ALL trusts of all types in the quarter.
-- Exact arithmetic: the averages are read back as their exact 12 dp DECIMALs
-- (04_trust_averages.sql) and interpolated in DECIMAL (exact_quartile; DuckDB's quantile_cont
-- on a DECIMAL interpolates in floating point and keeps only the input's scale). A cut-point is
-- an exact 14 dp DECIMAL stored as its nearest DOUBLE; 06 and 08 read it back exactly with
-- CAST(q25 AS DECIMAL(18, 14)) (15 significant digits survive a DOUBLE round trip).
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
CREATE OR REPLACE TABLE segment_cut_points AS
WITH sorted AS (
    SELECT
        quarter,
        list(CAST(average_score AS DECIMAL(18, 12)) ORDER BY average_score) AS averages
    FROM trust_averages
    GROUP BY ALL
)
SELECT
    quarter,
    CAST(exact_quartile(averages, 1) AS DOUBLE) AS q25,
    CAST(exact_quartile(averages, 2) AS DOUBLE) AS q50,
    CAST(exact_quartile(averages, 3) AS DOUBLE) AS q75,
    len(averages) AS n_trusts
FROM sorted;
