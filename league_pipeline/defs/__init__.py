"""Dagster definitions: assets, asset checks, jobs, schedules and sensors.

Belongs here: orchestration only. Each module wires library code (sources, validation, scoring,
snapshots) into Dagster objects; the logic itself lives outside this sub-package so it can be
used and tested without Dagster.
"""
