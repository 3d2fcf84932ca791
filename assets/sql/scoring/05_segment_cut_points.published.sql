-- After step 5: a quarter whose run leaves out a peer group cannot compute the cut-points
-- (quartiles over every trust type). Its cut-points are those the publication implies: the
-- highest published average (OF5002) in each published unadjusted segment (OF5003) among the
-- run's trusts, so that "average <= cut-point" gives back NHS England's segments. Explanations
-- and the likely ranges use them; basis records where they came from.
CREATE OR REPLACE TABLE segment_cut_points AS
SELECT c.*, 'computed' AS basis
FROM segment_cut_points AS c
ANTI JOIN partial_quarters AS pq ON pq.quarter = c.quarter
UNION ALL BY NAME
SELECT
    p.quarter,
    max(p.average_score) FILTER (WHERE p.unadjusted_segment = 1) AS q25,
    max(p.average_score) FILTER (WHERE p.unadjusted_segment <= 2) AS q50,
    max(p.average_score) FILTER (WHERE p.unadjusted_segment <= 3) AS q75,
    count(*) AS n_trusts,
    'published' AS basis
FROM published_summary AS p
JOIN partial_quarters AS pq ON pq.quarter = p.quarter
JOIN trusts AS t ON t.quarter = p.quarter AND t.trust_code = p.trust_code
GROUP BY p.quarter;
