"""Metric values from the raw public NHS statistics, and what they are used for.

Belongs here: readers for the raw statistical releases behind some NOF metrics (AmbSYS, monthly
A&E, cancer waiting times, RTT), their derivation into quarterly metric values (SQL in
``assets/sql/raw``), the precedence rule between official, derived and carried values
(``assets/metric_sources.yaml``), the reconciliation of derived against official values, and the
inputs of a provisional league table for a quarter NHS England has not published yet.
Dagster wiring lives in :mod:`league_pipeline.defs.raw`; nothing here imports Dagster.
"""
