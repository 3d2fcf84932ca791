-- What-if, after step 2 of a batch: the trusts whose averaging items a scenario changed (every
-- trust when whatif_options.every_trust, which also scores the domains), each with all of its
-- items (the changed ones and the baseline's others), for the domain scores and averages.
CREATE OR REPLACE TABLE scenario_score_items AS
SELECT * FROM score_items;

CREATE OR REPLACE TABLE scenario_trusts AS
SELECT DISTINCT l.scenario, l.quarter, i.trust_code
FROM scenario_score_items AS i
JOIN scenario_list AS l ON l.quarter = i.quarter
LEFT JOIN base_score_items AS b ON b.trust_code = i.trust_code AND b.item = i.item
WHERE b.score IS DISTINCT FROM i.score
UNION
SELECT l.scenario, l.quarter, t.trust_code
FROM scenario_list AS l
CROSS JOIN base_trusts AS t
WHERE (SELECT every_trust FROM whatif_options);

CREATE OR REPLACE TABLE score_items AS
SELECT i.*
FROM scenario_score_items AS i
SEMI JOIN scenario_trusts AS t ON t.quarter = i.quarter AND t.trust_code = i.trust_code
UNION ALL BY NAME
SELECT b.* REPLACE (t.quarter AS quarter)
FROM base_score_items AS b
JOIN scenario_trusts AS t ON t.trust_code = b.trust_code
WHERE NOT EXISTS (
    SELECT 1 FROM scenario_items AS x WHERE x.scenario = t.scenario AND x.item = b.item
);

CREATE OR REPLACE TABLE published_domains AS
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_published_domains AS b
CROSS JOIN scenario_list AS l
WHERE (SELECT every_trust FROM whatif_options);
