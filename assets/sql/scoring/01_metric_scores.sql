-- Step 1: metric value (OF0xxx) -> metric score (OF1xxx), 1.00 best ... 4.00 worst.
-- Rules (assets/methodology/metrics.csv column `rule`, methodology doc section 4.1):
--   rank         A: 1 + 3(r-1)/(N-1) over the pool
--   target_rank  B: 1.00 if the target is met, else 2 + 2(r'-1)/(N'-1) among non-achievers;
--                   infection metrics published as a count use the count bands instead
--   ucr          C: achievers 1 + 2(r-1)/(M-1), non-achievers 4.00
--   band         D: finance plan / YTD variance bands (assets/methodology/score_bands.csv)
--   matrix       D: combined finance = lookup of the two finance band scores
--   given        published only as a score (SHMI, CQC): taken as given
-- Ranks are competition ranks (ties share the lowest rank) on the values as given. Published
-- values are rounded, so trusts can look tied when NHS England's unrounded values were not. Where
-- every trust sharing a value is of one peer group, the published within-type Rank (tiebreak
-- column) restores NHS England's order; across peer groups it cannot, and the tie stands.
-- Exact arithmetic: a ranked score is the rational 1 + 3(r-1)/(N-1) (etc.), rounded half-up to
-- 12 dp in integer arithmetic (exact_div), never a binary floating-point quotient. The stored
-- DOUBLE is the nearest double to that 12 dp DECIMAL, so CAST(score AS DECIMAL(18, 12)) gives
-- it back exactly (at most 15 significant digits survive a DOUBLE round trip). 12 dp keeps every
-- 2 dp item rounding exact: a quotient with denominator N-1 <= 10^4 is either exactly on an
-- x.xx5 boundary or at least 5e-7 from it.
CREATE OR REPLACE TEMP MACRO exact_div(num, den) AS
    CAST(
        (CAST(CAST(num AS DECIMAL(38, 12)) * 1000000000000 AS HUGEINT) * 2 + den) // (2 * den)
        AS DECIMAL(38, 0)
    ) * CAST(0.000000000001 AS DECIMAL(13, 12));
CREATE OR REPLACE TABLE metric_scores AS
WITH valued AS (
    SELECT
        mv.quarter,
        mv.trust_code,
        t.peer_group,
        c.score_id,
        c.rule,
        mv.value,
        mv.tiebreak,
        CASE WHEN c.pool = 'peer_group' THEN t.peer_group ELSE 'all' END AS pool_key,
        coalesce(c.count_fallback AND mv.unit = 'count', false) AS count_basis,
        CASE c.target_op
            WHEN 'lt' THEN mv.value < c.target
            WHEN 'le' THEN mv.value <= c.target
            WHEN 'ge' THEN mv.value >= c.target
            WHEN 'gt' THEN mv.value > c.target
        END AS meets_target,
        CASE WHEN c.direction = 'lower' THEN mv.value ELSE -mv.value END AS badness
    FROM metric_values AS mv
    JOIN catalogue AS c ON c.value_id = mv.metric_id
    JOIN trusts AS t ON t.quarter = mv.quarter AND t.trust_code = mv.trust_code
    WHERE mv.value IS NOT NULL AND c.rule IN ('rank', 'target_rank', 'ucr', 'band')
),
grouped AS (
    SELECT
        *,
        CASE
            WHEN rule = 'rank' THEN 'all'
            WHEN rule = 'band' THEN 'band'
            WHEN count_basis THEN 'count'
            WHEN meets_target THEN 'met'
            ELSE 'not_met'
        END AS rank_group
    FROM valued
),
ties AS (
    SELECT
        *,
        min(peer_group) OVER tie = max(peer_group) OVER tie AS tie_single_type
    FROM grouped
    WINDOW tie AS (PARTITION BY quarter, score_id, pool_key, rank_group, badness)
),
ranked AS (
    SELECT
        *,
        rank() OVER (
            PARTITION BY quarter, score_id, pool_key, rank_group
            ORDER BY badness, CASE WHEN tie_single_type THEN tiebreak END
        ) AS pool_rank,
        count(*) OVER (PARTITION BY quarter, score_id, pool_key, rank_group) AS pool_size
    FROM ties
),
banded AS (
    SELECT r.quarter, r.trust_code, r.score_id, min(b.score) AS band_score
    FROM ranked AS r
    JOIN score_bands AS b
        ON b.score_id = r.score_id
        AND b.basis = CASE WHEN r.count_basis THEN 'count' ELSE 'value' END
        AND (b.min_value IS NULL OR r.value > b.min_value OR (b.min_inclusive AND r.value = b.min_value))
        AND (b.max_value IS NULL OR r.value < b.max_value OR (b.max_inclusive AND r.value = b.max_value))
    WHERE r.rule = 'band' OR r.count_basis
    GROUP BY ALL
),
scored AS (
    SELECT
        r.quarter,
        r.trust_code,
        r.peer_group,
        r.score_id,
        r.rule,
        r.value,
        r.rank_group,
        r.pool_rank,
        r.pool_size,
        CAST(CASE
            WHEN r.rule = 'band' OR r.count_basis THEN b.band_score
            WHEN r.rule = 'rank' THEN
                CASE WHEN r.pool_size = 1 THEN 1.0
                     ELSE 1 + exact_div(3 * (r.pool_rank - 1), r.pool_size - 1) END
            WHEN r.rule = 'target_rank' AND r.meets_target THEN 1.0
            WHEN r.rule = 'target_rank' THEN
                CASE WHEN r.pool_size = 1 THEN 2.0
                     ELSE 2 + exact_div(2 * (r.pool_rank - 1), r.pool_size - 1) END
            WHEN r.rule = 'ucr' AND NOT r.meets_target THEN 4.0
            WHEN r.rule = 'ucr' THEN
                CASE WHEN r.pool_size = 1 THEN 1.0
                     ELSE 1 + exact_div(2 * (r.pool_rank - 1), r.pool_size - 1) END
        END AS DOUBLE) AS score
    FROM ranked AS r
    LEFT JOIN banded AS b USING (quarter, trust_code, score_id)
),
combined_finance AS (
    SELECT
        plan.quarter,
        plan.trust_code,
        plan.peer_group,
        'OF1080' AS score_id,
        'matrix' AS rule,
        CAST(NULL AS DOUBLE) AS value,
        'matrix' AS rank_group,
        CAST(NULL AS BIGINT) AS pool_rank,
        CAST(NULL AS BIGINT) AS pool_size,
        CAST(m.combined_score AS DOUBLE) AS score
    FROM scored AS plan
    JOIN scored AS ytd
        ON ytd.quarter = plan.quarter AND ytd.trust_code = plan.trust_code AND ytd.score_id = 'OF1081'
    JOIN finance_matrix AS m ON m.plan_score = plan.score AND m.ytd_score = ytd.score
    WHERE plan.score_id = 'OF1079'
),
given AS (
    SELECT
        gs.quarter,
        gs.trust_code,
        t.peer_group,
        gs.score_id,
        'given' AS rule,
        CAST(NULL AS DOUBLE) AS value,
        'given' AS rank_group,
        CAST(NULL AS BIGINT) AS pool_rank,
        CAST(NULL AS BIGINT) AS pool_size,
        gs.score
    FROM given_scores AS gs
    JOIN catalogue AS c ON c.score_id = gs.score_id AND c.rule = 'given'
    JOIN trusts AS t ON t.quarter = gs.quarter AND t.trust_code = gs.trust_code
    WHERE gs.score IS NOT NULL
)
SELECT * FROM scored
UNION ALL BY NAME SELECT * FROM combined_finance
UNION ALL BY NAME SELECT * FROM given;
