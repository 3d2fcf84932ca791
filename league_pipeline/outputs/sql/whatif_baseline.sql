-- What-if (league_pipeline/outputs/whatif.py), once a session has scored the quarter as its
-- snapshot was scored: keep every input and every layer as base_<table>. Each batch of
-- scenarios is then made from these tables by whatif_scores.sql and the steps after it.
-- A batch is many small quarters: one thread scores it with less work than two (measured in
-- docs/whatif.md).
SET threads TO 1;
ALTER TABLE trusts RENAME TO base_trusts;
ALTER TABLE metric_values RENAME TO base_metric_values;
ALTER TABLE given_scores RENAME TO base_given_scores;
ALTER TABLE deficit_flags RENAME TO base_deficit_flags;
ALTER TABLE rsp RENAME TO base_rsp;
ALTER TABLE run_scope RENAME TO base_run_scope;
ALTER TABLE published_scores RENAME TO base_published_scores;
ALTER TABLE published_domains RENAME TO base_published_domains;
ALTER TABLE published_summary RENAME TO base_published_summary;
ALTER TABLE metric_scores RENAME TO base_metric_scores;
ALTER TABLE score_items RENAME TO base_score_items;
ALTER TABLE domain_scores RENAME TO base_domain_scores;
ALTER TABLE trust_averages RENAME TO base_trust_averages;
ALTER TABLE segment_cut_points RENAME TO base_segment_cut_points;
ALTER TABLE unadjusted_segments RENAME TO base_unadjusted_segments;
ALTER TABLE trust_segments RENAME TO base_trust_segments;
ALTER TABLE league_table RENAME TO base_league_table;
