-- Step 7: financial override (OF5000): a trust in deficit or receiving deficit support
-- (OF5004) cannot be above segment 3, so segments 1-2 become 3. Then segment 5 (OF5005) for
-- trusts in the Recovery Support Programme (OF5007), an external list.
CREATE OR REPLACE TABLE trust_segments AS
WITH flagged AS (
    SELECT
        u.*,
        coalesce(f.deficit_flag, false) AS deficit_flag,
        coalesce(r.in_rsp, false) AS in_rsp
    FROM unadjusted_segments AS u
    LEFT JOIN deficit_flags AS f USING (quarter, trust_code)
    LEFT JOIN rsp AS r USING (quarter, trust_code)
)
SELECT
    *,
    CASE WHEN deficit_flag THEN greatest(unadjusted_segment, 3)
         ELSE unadjusted_segment END AS adjusted_segment,
    CASE WHEN in_rsp THEN 5
         WHEN deficit_flag THEN greatest(unadjusted_segment, 3)
         ELSE unadjusted_segment END AS final_segment
FROM flagged;
