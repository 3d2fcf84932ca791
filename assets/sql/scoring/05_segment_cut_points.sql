-- Step 5: segment cut-points = quartiles (linear interpolation, as pandas/numpy's default) of
-- the average metric score over ALL trusts of all types in the quarter.
CREATE OR REPLACE TABLE segment_cut_points AS
SELECT
    quarter,
    quantile_cont(average_score, 0.25) AS q25,
    quantile_cont(average_score, 0.50) AS q50,
    quantile_cont(average_score, 0.75) AS q75,
    count(*) AS n_trusts
FROM trust_averages
GROUP BY ALL;
