"""Validation: pandera schemas (``schemas/*.yaml``), their custom checks, the failure reports,
and the consistency checks across a quarter's sources.

``schemas`` loads the schemas (and registers the custom dtypes and, through ``checks`` and
``raw_checks``, the custom checks); ``report`` validates a frame and reports the failures;
``consistency`` looks across a quarter's files.
"""
