-- A snapshot's league tables in NHS England's published league-table layout (column names and
-- types as league_pipeline.formats.readers.read_nof_league_table returns them; the writer prints
-- Segment and Rank as 1.0 and the deficit flag as Yes/No):
--   Average_score = OF5002 to 2 dp; Segment = OF5000 (after the financial override, not the
--   RSP segment 5); Rank = the league rank; likely ranges as 'lower to upper' text, the score
--   bounds printed as NHS England prints floats ('1.2 to 1.89'), the rank bounds as integers.
-- Rows ordered by peer group, then rank, then trust code.
SELECT
    l.quarter AS "Quarter",
    l.region AS "Region",
    g.trust_type AS "Trust_type",
    l.trust_subtype AS "Trust_subtype",
    l.trust_code AS "Trust_code",
    l.trust_name AS "Trust_name",
    -- the exact average (stored as its nearest double) to 2 dp, half up, as 08 ranks on it
    CAST(round(CAST(l.average_score AS DECIMAL(18, 12)), 2) AS DOUBLE) AS "Average_score",
    CAST(CAST(l.score_lower AS DOUBLE) AS VARCHAR) || ' to '
        || CAST(CAST(l.score_upper AS DOUBLE) AS VARCHAR) AS "Likely_range_of_average_score",
    CAST(l.adjusted_segment AS DOUBLE) AS "Segment",
    l.deficit_flag AS "Trust_in_financial_deficit",
    CAST(l.rank AS DOUBLE) AS "Rank",
    CAST(CAST(l.rank_lower AS BIGINT) AS VARCHAR) || ' to '
        || CAST(CAST(l.rank_upper AS BIGINT) AS VARCHAR) AS "Likely_range_of_rank",
    l.peer_group
FROM league_table AS l
JOIN peer_groups AS g USING (peer_group)
ORDER BY l.peer_group, l.rank, l.trust_code;
