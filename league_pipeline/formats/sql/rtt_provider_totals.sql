-- RTT full CSV extract (view rtt_rows: codes as text, counts as BIGINT; for a CSV usually only
-- the candidate lines that rtt_candidate_lines.sql copied out) -> one row per provider:
-- incomplete pathways (RTT Part Type Part_2) over all treatment functions (Treatment Function
-- Code C_999, the total row), excluding patients whose commissioner is not English (NONC),
-- as the NOF specification for OF0023 says. Bands are "Gt 00 To 01 Weeks SUM 1" ...
-- "Gt 103 To 104 Weeks SUM 1", "Gt 104 Weeks SUM 1"; a cell read that is not a whole number
-- fails the read (a malformed extract is refused, never blanked). DuckDB streams the file: memory
-- stays bounded whatever its size. Each band is summed per provider first (plain vectorised
-- sums), and the bands are added up on the few aggregated rows.
-- Parameters: $part_type ('Part_2'), $total_function ('C_999'), $excluded_commissioner ('NONC').
WITH per_provider AS (
    SELECT
        trim("Period") AS period,
        upper(trim("Provider Org Code")) AS org_code,
        any_value(trim("Provider Org Name")) AS org_name,
        count(*) AS source_rows,
        sum("Total") AS total,
        sum(coalesce("Patients with unknown clock start date", 0)) AS unknown_clock_start,
        sum(COLUMNS('(?i)^Gt \d+( To \d+)? Weeks SUM 1$'))
    FROM rtt_rows
    WHERE trim("RTT Part Type") = $part_type
      AND trim("Treatment Function Code") = $total_function
      AND upper(trim("Commissioner Org Code")) <> $excluded_commissioner
      AND upper(trim(coalesce("Commissioner Parent Org Code", ''))) <> $excluded_commissioner
    GROUP BY ALL
)
SELECT
    period,
    org_code,
    org_name,
    source_rows,
    total,
    list_sum(list_value(*COLUMNS('(?i)^Gt \d+( To \d+)? Weeks SUM 1$'))) AS bands_total,
    list_sum(list_value(*COLUMNS('(?i)^Gt (0\d|1[0-7]) To \d+ Weeks SUM 1$'))) AS within_18_weeks,
    list_sum(list_value(*COLUMNS('(?i)^Gt (5[2-9]|[6-9]\d|1\d\d)( To \d+)? Weeks SUM 1$')))
        AS over_52_weeks,
    unknown_clock_start
FROM per_provider
ORDER BY org_code, period;
