-- After step 6: a quarter whose run leaves out a peer group takes NHS England's published
-- unadjusted segment (OF5003) and the published average (OF5002) it was decided on, which also
-- orders the league table within a segment. The computed average stays in trust_averages and
-- is audited on its own.
CREATE OR REPLACE TABLE unadjusted_segments AS
SELECT
    u.* REPLACE (
        CASE WHEN pq.quarter IS NULL THEN u.average_score ELSE p.average_score END
            AS average_score,
        CASE WHEN pq.quarter IS NULL THEN u.unadjusted_segment
             ELSE CAST(p.unadjusted_segment AS INTEGER) END AS unadjusted_segment
    ),
    CASE WHEN pq.quarter IS NULL THEN 'computed' ELSE 'published' END AS average_score_basis,
    CASE WHEN pq.quarter IS NULL THEN 'computed' ELSE 'published' END AS unadjusted_segment_basis
FROM unadjusted_segments AS u
LEFT JOIN partial_quarters AS pq ON pq.quarter = u.quarter
LEFT JOIN published_summary AS p ON p.quarter = u.quarter AND p.trust_code = u.trust_code;
