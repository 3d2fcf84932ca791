-- After step 1, the ranking pools this run cannot complete. A metric ranked across trust types
-- (catalogue pool 'all') whose peer groups include one the run leaves out (run_scope) cannot be
-- ranked from the run's values: its scores are NHS England's published OF1xxx scores. Every
-- score records its basis: 'computed', or 'published' (those, and the score-only metrics such
-- as SHMI and CQC, which NHS England publishes as scores). No run_scope rows: compute all.
CREATE OR REPLACE TABLE metric_scores AS
WITH pool_groups AS (
    SELECT score_id, unnest(string_split(peer_groups, '|')) AS peer_group
    FROM catalogue
    WHERE pool = 'all'
),
gaps AS (
    SELECT DISTINCT q.quarter, pg.score_id
    FROM (SELECT DISTINCT quarter FROM run_scope) AS q
    CROSS JOIN pool_groups AS pg
    WHERE NOT EXISTS (
        SELECT 1 FROM run_scope AS r WHERE r.quarter = q.quarter AND r.peer_group = pg.peer_group
    )
)
SELECT
    s.*,
    CASE WHEN s.rule = 'given' THEN 'published' ELSE 'computed' END AS basis
FROM metric_scores AS s
ANTI JOIN gaps AS g ON g.quarter = s.quarter AND g.score_id = s.score_id
UNION ALL BY NAME
SELECT
    p.quarter,
    p.trust_code,
    t.peer_group,
    p.score_id,
    c.rule,
    'published' AS rank_group,
    p.score,
    'published' AS basis
FROM published_scores AS p
JOIN gaps AS g ON g.quarter = p.quarter AND g.score_id = p.score_id
JOIN trusts AS t ON t.quarter = p.quarter AND t.trust_code = p.trust_code
JOIN catalogue AS c ON c.score_id = p.score_id;
