"""Core: what every layer shares. Quarters, peer groups, settings, paths, staging, atomic writes.

Nothing here imports Dagster, pandas-heavy layers or any other package of the project.
"""
