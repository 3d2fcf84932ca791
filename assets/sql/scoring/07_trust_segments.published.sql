-- After step 7: where each trust's flags came from (the deficit_flags and rsp inputs carry it:
-- 'published' from the publication's OF5004/OF5007, 'supplied' from a landing file).
CREATE OR REPLACE TABLE trust_segments AS
SELECT
    s.*,
    coalesce(f.deficit_flag_basis, 'supplied') AS deficit_flag_basis,
    coalesce(r.in_rsp_basis, 'supplied') AS in_rsp_basis
FROM trust_segments AS s
LEFT JOIN deficit_flags AS f ON f.quarter = s.quarter AND f.trust_code = s.trust_code
LEFT JOIN rsp AS r ON r.quarter = s.quarter AND r.trust_code = s.trust_code;
