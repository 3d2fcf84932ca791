-- RTT full CSV extract, first pass: copy the lines that may hold a wanted row to a small file,
-- which read_rtt_extract then parses and filters exactly (rtt_provider_totals.sql).
-- Each line is read as one text value (a separator that never occurs, no quoting): no field
-- splitting and none of the 108 integer conversions that dominate a typed scan of the whole
-- file, though only about 1% of its rows are kept. A wanted row (RTT Part Type $part_type,
-- Treatment Function Code $total_function) holds both texts on its line, so the lines kept are
-- a superset of the wanted rows. That holds only while every record is one line: a line with
-- an odd number of double quotes (a quoted field running over a line end) stops the pass with
-- an error, and so does a line holding the separator; the caller then reads the whole file.
-- Parameters: $source, $target (file paths), $separator (one control character),
-- $part_type ('Part_2'), $total_function ('C_999').
COPY (
    SELECT line
    FROM read_csv(
        $source,
        columns = {'line': 'VARCHAR'},
        header = false,
        delim = $separator,
        quote = '',
        escape = '',
        auto_detect = false
    )
    WHERE CASE
        WHEN contains(line, '"') AND len(string_split(line, '"')) % 2 = 0
            THEN error('a quoted field runs over a line end')
        ELSE contains(line, $part_type) AND contains(line, $total_function)
    END
) TO $target (FORMAT csv, HEADER false, DELIMITER $separator, QUOTE '', ESCAPE '');
