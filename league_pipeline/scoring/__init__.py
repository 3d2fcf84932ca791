"""Scoring: the NOF 2025/26 methodology executed as DuckDB SQL (``assets/sql/scoring``).

Belongs here: assembling the scoring inputs, running the SQL files in order, the bootstrap
"likely ranges", and nothing about where files come from or where results are stored.
"""
