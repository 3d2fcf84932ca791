"""Ingest: getting NHS England's published files into the pipeline, reproducibly.

Belongs here: the source catalogue (``assets/sources.yaml``), fetching (landing folder or HTTP),
the content-addressed source store, and :func:`~league_pipeline.ingest.acquire.acquire`, the one
call assets make. Parsing file contents lives in :mod:`league_pipeline.formats`.
"""
