-- What-if, after the cut-points of a batch: the trusts whose segments are decided next, with
-- their flags. Every trust, or, when a search needs only each scenario's own trust
-- (whatif_options.own_trust_only), that trust alone: a trust's segment depends on the other
-- trusts only through the cut-points.
CREATE OR REPLACE TABLE trust_averages AS
SELECT a.*
FROM trust_averages AS a
JOIN scenario_list AS l ON l.quarter = a.quarter
WHERE NOT (SELECT own_trust_only FROM whatif_options) OR a.trust_code = l.trust_code;

CREATE OR REPLACE TABLE deficit_flags AS
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_deficit_flags AS b
CROSS JOIN scenario_list AS l
WHERE NOT (SELECT own_trust_only FROM whatif_options) OR b.trust_code = l.trust_code;

CREATE OR REPLACE TABLE rsp AS
SELECT b.* REPLACE (l.quarter AS quarter)
FROM base_rsp AS b
CROSS JOIN scenario_list AS l
WHERE NOT (SELECT own_trust_only FROM whatif_options) OR b.trust_code = l.trust_code;
