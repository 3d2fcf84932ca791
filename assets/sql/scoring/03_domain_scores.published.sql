-- After step 3: domain segments are quartiles pooled over every trust type, so a quarter whose
-- run leaves out a peer group (partial_quarters) takes NHS England's published domain segments
-- (OF41xx). The domain scores themselves are always computed.
CREATE OR REPLACE TABLE domain_scores AS
SELECT
    d.* REPLACE (
        CASE WHEN pq.quarter IS NULL THEN d.segment ELSE CAST(p.segment AS INTEGER) END
            AS segment
    ),
    CASE WHEN pq.quarter IS NULL THEN 'computed' ELSE 'published' END AS segment_basis
FROM domain_scores AS d
LEFT JOIN partial_quarters AS pq ON pq.quarter = d.quarter
LEFT JOIN published_domains AS p
    ON p.quarter = d.quarter AND p.trust_code = d.trust_code AND p.domain_id = d.domain_id;
