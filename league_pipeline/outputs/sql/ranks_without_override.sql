-- Where each trust would rank without the financial override (OF5000), by the league rule of
-- assets/sql/scoring/08_league_table.sql: competition rank within the peer group by segment,
-- then by the average score to 2 dp.
--   rank_without_own_override: only this trust's override lifted (its unadjusted segment),
--                              every other trust as published
--   rank_without_any_override: the whole table ranked on unadjusted segments
-- For a trust the override did not move, the first equals its league rank.
WITH keyed AS (
    SELECT
        quarter,
        peer_group,
        trust_code,
        adjusted_segment,
        unadjusted_segment,
        round(CAST(average_score AS DECIMAL(18, 12)), 2) AS score_2dp  -- exact, as 08 rounds it
    FROM trust_segments
),
own AS (
    SELECT
        t.quarter,
        t.peer_group,
        t.trust_code,
        1 + count(o.trust_code) FILTER (
            WHERE o.adjusted_segment < t.unadjusted_segment
               OR (o.adjusted_segment = t.unadjusted_segment AND o.score_2dp < t.score_2dp)
        ) AS rank_without_own_override
    FROM keyed AS t
    JOIN keyed AS o
        ON o.quarter = t.quarter AND o.peer_group = t.peer_group AND o.trust_code <> t.trust_code
    GROUP BY ALL
)
SELECT
    k.quarter,
    k.peer_group,
    k.trust_code,
    coalesce(own.rank_without_own_override, 1) AS rank_without_own_override,
    rank() OVER (
        PARTITION BY k.quarter, k.peer_group ORDER BY k.unadjusted_segment, k.score_2dp
    ) AS rank_without_any_override
FROM keyed AS k
LEFT JOIN own USING (quarter, peer_group, trust_code)
ORDER BY k.quarter, k.peer_group, k.trust_code;
