"""Getting the published source files into the pipeline, reproducibly.

Belongs here: the source catalogue (``assets/sources.yaml``: which files exist, where they land,
where NHS England publishes them), the two fetch modes (a local landing folder, or HTTP with
retries and sanity checks), the immutable content-addressed store every fetched file is kept in,
and :func:`~league_pipeline.sources.acquire.acquire`, the one call assets make. Parsing and
validating the files' contents does not belong here.
"""
